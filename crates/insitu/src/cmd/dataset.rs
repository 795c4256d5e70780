//! `insitu dataset …`: build training datasets from de-identified notes and
//! list the ones built. The dataset logic lives in insitu-data; this module
//! reads the input, applies the home's policy, records the result and audits.

use crate::Global;
use anyhow::Context;
use insitu_data::{BuildOptions, CustomTemplate, Format, Record, Split, Task};
use insitu_store::datasets::{NewDataset, SplitSize};
use insitu_store::Store;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// Subcommands of `insitu dataset`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Build train/validation/test JSONL, splits.json and a dataset card.
    Build(BuildArgs),
    /// List the datasets recorded in the home.
    List,
}

/// Arguments of `insitu dataset build`.
#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// handover | radiology-impression | icd10 | triage | continued-pretraining | custom.
    #[arg(long)]
    pub task: String,
    /// alpaca | messages | preference | text.
    #[arg(long)]
    pub format: String,
    /// Directory to write (must not exist or be empty).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Read de-identified notes from this JSONL instead of the home's store:
    /// {id, patient_id or patient_key, kind, written_at, text, …}; other fields
    /// (icd10, triage_category) become metadata. `patient_id` is pseudonymised
    /// with the home's key. Without it, every document de-identified in the
    /// home (`insitu deid --home`) is used.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Seed for patient splits and preference pairs.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Replace confidently resolved clinical abbreviations with their expansions.
    #[arg(long)]
    pub expand_abbreviations: bool,
    /// For --task custom: TOML with `instruction`, `input`, `output` minijinja
    /// templates over `sections.<name>`, `text`, `kind`, `meta`.
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// Only use notes of these kinds, comma-separated (e.g.
    /// `discharge_summary,radiology`); default: every kind.
    #[arg(long, value_delimiter = ',', value_name = "KIND,…")]
    pub kinds: Vec<String>,
    /// Patient shares of train, validation and test, summing to 1.
    #[arg(long, value_delimiter = ',', value_name = "TRAIN,VAL,TEST", default_values_t = [0.8, 0.1, 0.1])]
    pub split: Vec<f64>,
    /// Use at most this many notes, taken as whole patients in an order
    /// fixed by --seed (no patient is cut in half).
    #[arg(long, value_name = "N")]
    pub max_notes: Option<usize>,
}

/// Runs `insitu dataset …`.
pub fn run(command: Command, g: &Global) -> anyhow::Result<()> {
    match command {
        Command::Build(a) => build(a, g),
        Command::List => list(g),
    }
}

fn list(g: &Global) -> anyhow::Result<()> {
    let store = Store::open(&g.home_dir())?;
    let rows = store.datasets()?;
    if rows.is_empty() {
        println!("no datasets yet — build one with `insitu dataset build`");
    }
    for r in rows {
        println!(
            "{:>4}  {:<22} {:<10} train {:>6} ({} patients)  validation {:>5}  test {:>5}  {}",
            r.dataset_id,
            r.task,
            r.format,
            r.splits[0].examples,
            r.splits[0].patients,
            r.splits[1].examples,
            r.splits[2].examples,
            r.dir
        );
    }
    Ok(())
}

fn build(a: BuildArgs, g: &Global) -> anyhow::Result<()> {
    let task: Task = a
        .task
        .parse()
        .map_err(|e: insitu_data::Error| crate::exit::input(e.to_string()))?;
    let format: Format = a
        .format
        .parse()
        .map_err(|e: insitu_data::Error| crate::exit::input(e.to_string()))?;
    let custom = match (&a.template, task) {
        (Some(p), _) => Some(read_template(p)?),
        (None, Task::Custom) => {
            return Err(crate::exit::input(
                "--task custom needs --template FILE (TOML with instruction, input, output)",
            ))
        }
        (None, _) => None,
    };
    let home = g.home_dir();
    let mut store = Store::open(&home)?;
    let records = match &a.input {
        Some(path) => {
            let pseudonymiser = store.home().pseudonymiser()?;
            read_records(path, |raw| pseudonymiser.key(raw).0)?
        }
        None => records_from_store(&mut store, &g.actor(), g.quiet)?,
    };
    let records = select_records(records, &a.kinds, a.max_notes, a.seed)?;
    let ratios = split_ratios(&a.split)?;
    let opts = BuildOptions {
        seed: a.seed,
        ratios,
        expand_abbreviations: a.expand_abbreviations,
        custom,
        ..BuildOptions::new(task, format)
    };
    let (id, written) = build_and_record(&mut store, records, opts, &a.out, &g.actor())?;
    let dir = written.dir.clone();
    let c = &written.card;
    println!(
        "dataset {id}: {} / {} written to {}",
        task.as_str(),
        format.as_str(),
        dir.display()
    );
    for s in Split::ALL {
        let n = c.splits.get(&s).cloned().unwrap_or_default();
        println!(
            "  {:<10} {:>6} examples from {:>5} patients",
            s.as_str(),
            n.examples,
            n.patients
        );
    }
    println!(
        "  dropped: {} exact duplicate documents, {} copied-forward and {} near-duplicate paragraphs, {} low-quality documents",
        c.dedup.documents_duplicate,
        c.dedup.paragraphs_copied_forward,
        c.dedup.paragraphs_near_duplicate,
        c.quality_dropped.values().sum::<usize>()
    );
    if let insitu_data::PhiRescan::Scanned {
        spans,
        examples_with_spans,
        ..
    } = &c.phi_rescan
    {
        if *spans > 0 {
            eprintln!("warning: PHI re-scan found {spans} possible identifier(s) in {examples_with_spans} example(s) — see card.md before training");
        }
    }
    println!(
        "  card: {} (sha256 {})",
        dir.join("card.md").display(),
        written.card_sha256
    );
    Ok(())
}

/// Checks `--split`: three non-negative shares summing to 1.
fn split_ratios(split: &[f64]) -> anyhow::Result<[f64; 3]> {
    let bad =
        |why: &str| {
            crate::exit::input(format!(
            "--split {}: {why} — give three patient shares summing to 1, e.g. --split 0.8,0.1,0.1",
            split.iter().map(f64::to_string).collect::<Vec<_>>().join(",")
        ))
        };
    let [train, validation, test] = split else {
        return Err(bad("needs exactly three numbers"));
    };
    if split.iter().any(|x| !x.is_finite() || *x < 0.0) || *train <= 0.0 {
        return Err(bad("shares must be non-negative and train above 0"));
    }
    if (train + validation + test - 1.0).abs() > 1e-6 {
        return Err(bad("the shares do not sum to 1"));
    }
    Ok([*train, *validation, *test])
}

/// Applies `--kinds` and `--max-notes`. The cap keeps whole patients: their
/// order is a keyed hash of the seed and the patient key, so it is fixed by
/// the seed and does not favour any patient.
fn select_records(
    records: Vec<Record>,
    kinds: &[String],
    max_notes: Option<usize>,
    seed: u64,
) -> anyhow::Result<Vec<Record>> {
    let mut records = records;
    if !kinds.is_empty() {
        let available: std::collections::BTreeSet<String> =
            records.iter().map(|r| r.kind.clone()).collect();
        records.retain(|r| kinds.contains(&r.kind));
        if records.is_empty() {
            return Err(crate::exit::input(format!(
                "--kinds {}: no notes of these kinds — the notes have kinds: {}",
                kinds.join(","),
                available.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let Some(max) = max_notes else {
        return Ok(records);
    };
    if max == 0 {
        return Err(crate::exit::input("--max-notes must be at least 1"));
    }
    if records.len() <= max {
        return Ok(records);
    }
    use sha2::Digest;
    let mut by_patient: std::collections::BTreeMap<String, Vec<Record>> = Default::default();
    for r in records {
        by_patient.entry(r.patient_key.clone()).or_default().push(r);
    }
    let mut patients: Vec<(Vec<u8>, Vec<Record>)> = by_patient
        .into_iter()
        .map(|(key, notes)| {
            let mut h = sha2::Sha256::new();
            h.update(seed.to_le_bytes());
            h.update(key.as_bytes());
            (h.finalize().to_vec(), notes)
        })
        .collect();
    patients.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::with_capacity(max);
    for (_, notes) in patients {
        if out.len() + notes.len() > max {
            continue;
        }
        out.extend(notes);
    }
    Ok(out)
}

/// De-identified documents from the store as dataset records; stores each
/// document's quality score on the way (one transaction, audited).
pub fn records_from_store(
    store: &mut Store,
    actor: &str,
    quiet: bool,
) -> anyhow::Result<Vec<Record>> {
    let docs = store.deidentified_documents()?;
    if docs.is_empty() {
        return Err(crate::exit::input(format!(
            "{}: no de-identified documents — run `insitu ingest` and `insitu deid --home` first, or pass --input DEID.jsonl",
            store.home().root().display()
        )));
    }
    let quality = insitu_text::quality::QualityConfig::default();
    let without_patient = docs.iter().filter(|d| d.patient_key.is_none()).count();
    store.tx(|tx| {
        let mut flagged = 0;
        for d in &docs {
            let q = insitu_text::quality::assess(&d.text, &quality);
            let flags: Vec<String> = q
                .flags
                .iter()
                .filter_map(|f| serde_json::to_value(f).ok()?.as_str().map(str::to_string))
                .collect();
            flagged += usize::from(!flags.is_empty());
            tx.record_document_quality(d.doc_id, q.score, q.words as i64, &flags)?;
        }
        tx.audit(
            actor,
            "quality.assess",
            "documents",
            serde_json::json!({"documents": docs.len(), "flagged": flagged}),
        )?;
        Ok::<_, insitu_store::StoreError>(())
    })?;
    if without_patient > 0 && !quiet {
        eprintln!("note: {without_patient} document(s) have no patient key and are left out — patient-level splits need one");
    }
    Ok(docs
        .into_iter()
        .filter_map(|d| {
            let meta = match d.meta {
                serde_json::Value::Object(m) => m,
                _ => serde_json::Map::new(),
            };
            Some(Record {
                doc_id: d.doc_id.to_string(),
                patient_key: d.patient_key?.0,
                kind: d.kind.unwrap_or_default(),
                written_at: d.written_at.unwrap_or_default(),
                text: d.text,
                meta,
            })
        })
        .collect())
}

/// Builds a dataset from `records` under the home's policy (its
/// `min_patients_per_split` overrides `opts`), re-scans it for PHI with
/// insitu-deid, writes it to `out`, records it in the store and audits it
/// (`dataset.build`, or `dataset.refused` when the cohort is too small).
/// Returns the dataset id and what was written. `insitu demo` can call this.
pub fn build_and_record(
    store: &mut Store,
    records: Vec<Record>,
    mut opts: BuildOptions,
    out: &Path,
    actor: &str,
) -> anyhow::Result<(i64, insitu_data::WrittenDataset)> {
    let policy = insitu_release::Policy::load(&store.home().policy_path())?;
    opts.min_patients_per_split = policy.min_patients_per_split as usize;
    let (task, format) = (opts.task, opts.format);
    let scanner = |text: &str| {
        insitu_deid::scan(text)
            .into_iter()
            .map(|s| s.category.as_str().to_string())
            .collect::<Vec<_>>()
    };
    let built = match insitu_data::build(records, &opts, Some(("insitu-deid scan", &scanner))) {
        Ok(b) => b,
        Err(insitu_data::Error::CohortTooSmall {
            split,
            patients,
            minimum,
        }) => {
            store.tx(|tx| {
                tx.audit(actor, "dataset.refused", &format!("dataset:{}", out.display()), serde_json::json!({
                    "task": task.as_str(), "format": format.as_str(), "split": split.as_str(),
                    "patients": patients, "min_patients_per_split": minimum, "rule": "min_patients_per_split",
                }))?;
                Ok::<_, insitu_store::StoreError>(())
            })?;
            let e = insitu_data::Error::CohortTooSmall {
                split,
                patients,
                minimum,
            };
            return Err(anyhow::Error::new(e)
                .context("refused by the minimum-cohort policy (recorded in the audit log)"));
        }
        Err(
            e @ (insitu_data::Error::Invalid(_)
            | insitu_data::Error::Template { .. }
            | insitu_data::Error::NoExamples { .. }),
        ) => return Err(crate::exit::input(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    let mut written = built.write(out).map_err(|e| match e {
        insitu_data::Error::Invalid(m) => crate::exit::input(m),
        e => anyhow::Error::new(e),
    })?;
    written.dir = std::fs::canonicalize(&written.dir).unwrap_or(written.dir.clone());
    let size = |s: Split| {
        let c = written.card.splits.get(&s).cloned().unwrap_or_default();
        SplitSize {
            examples: c.examples as i64,
            patients: c.patients as i64,
        }
    };
    let dir_text = written.dir.display().to_string();
    let id = store.tx(|tx| {
        let id = tx.record_dataset(&NewDataset {
            task: task.as_str(),
            format: format.as_str(),
            dir: &dir_text,
            card_sha256: &written.card_sha256,
            seed: opts.seed,
            splits: [size(Split::Train), size(Split::Validation), size(Split::Test)],
            created_by: actor,
        })?;
        tx.audit(actor, "dataset.build", &format!("dataset:{id}"), serde_json::json!({
            "task": task.as_str(), "format": format.as_str(), "dir": dir_text, "card_sha256": written.card_sha256,
            "seed": opts.seed, "files": written.card.files, "phi_rescan": written.card.phi_rescan,
            "dedup": written.card.dedup, "min_patients_per_split": opts.min_patients_per_split,
        }))?;
        Ok::<_, insitu_store::StoreError>(id)
    })?;
    Ok((id, written))
}

fn read_template(path: &Path) -> anyhow::Result<CustomTemplate> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        crate::exit::input(format!("{}: cannot read template ({e})", path.display()))
    })?;
    toml::from_str(&text).map_err(|e| {
        crate::exit::input(format!(
            "{}: {e} — the template file needs instruction, input and output strings",
            path.display()
        ))
    })
}

/// Reads `{id, patient_id|patient_key, kind, written_at, text, …}` lines.
pub fn read_records(
    path: &Path,
    pseudonymise: impl Fn(&str) -> String,
) -> anyhow::Result<Vec<Record>> {
    let name = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|e| {
        crate::exit::input(format!(
            "{name}: cannot open ({e}) — pass de-identified notes as JSONL"
        ))
    })?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let n = i + 1;
        let line = line.with_context(|| format!("{name}:{n}: cannot read"))?;
        if line.trim().is_empty() {
            continue;
        }
        let serde_json::Value::Object(mut obj) = serde_json::from_str(&line)
            .map_err(|e| crate::exit::input(format!("{name}:{n}: not JSON ({e})")))?
        else {
            return Err(crate::exit::input(format!(
                "{name}:{n}: not a JSON object — every line needs {{id, patient_id, text}}"
            )));
        };
        let missing = |f: &str| {
            crate::exit::input(format!("{name}:{n}: field {f:?} is missing — every line needs {{id, patient_id (or patient_key), text}}"))
        };
        let text = match obj.remove("text") {
            Some(serde_json::Value::String(t)) => t,
            _ => return Err(missing("text")),
        };
        let doc_id = match obj.remove("id") {
            Some(serde_json::Value::String(s)) => s,
            Some(serde_json::Value::Number(x)) => x.to_string(),
            _ => return Err(missing("id")),
        };
        let patient_key = match (obj.remove("patient_key"), obj.remove("patient_id")) {
            (Some(serde_json::Value::String(k)), _) => k,
            (_, Some(serde_json::Value::String(raw))) => pseudonymise(&raw),
            (_, Some(serde_json::Value::Number(raw))) => pseudonymise(&raw.to_string()),
            _ => return Err(missing("patient_id")),
        };
        let take_str = |obj: &mut serde_json::Map<String, serde_json::Value>, k: &str| {
            obj.remove(k)
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        };
        let kind = take_str(&mut obj, "kind");
        let written_at = take_str(&mut obj, "written_at");
        out.push(Record {
            doc_id,
            patient_key,
            kind,
            written_at,
            text,
            meta: obj,
        });
    }
    if out.is_empty() {
        return Err(crate::exit::input(format!("{name}: no notes")));
    }
    Ok(out)
}
