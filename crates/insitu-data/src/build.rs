//! The pipeline: quality filter → exact/near-duplicate removal → optional
//! abbreviation expansion → task extraction → patient-level splits →
//! minimum-cohort check → PHI re-scan → card; then an atomic write.

use crate::card::{DatasetCard, LengthStats, PhiRescan, SplitCounts};
use crate::splits::{assign_splits, Split};
use crate::tasks::{compile_custom, extract, CustomTemplate, Format, Task};
use crate::{Error, Record};
use insitu_text::dedup::{DedupConfig, Deduper};
use insitu_text::quality::{assess, QualityConfig};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Options for [`build`].
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// What to teach.
    pub task: Task,
    /// How to write it.
    pub format: Format,
    /// Seed for splits and preference pairing.
    pub seed: u64,
    /// Train, validation, test shares of patients.
    pub ratios: [f64; 3],
    /// Refuse any split with fewer patients than this.
    pub min_patients_per_split: usize,
    /// Replace confidently resolved abbreviations with their expansions.
    pub expand_abbreviations: bool,
    /// Duplicate removal settings.
    pub dedup: DedupConfig,
    /// Quality filter settings.
    pub quality: QualityConfig,
    /// Templates for [`Task::Custom`].
    pub custom: Option<CustomTemplate>,
}

impl BuildOptions {
    /// Defaults: 80/10/10 split, seed 0, 50 patients per split minimum.
    pub fn new(task: Task, format: Format) -> BuildOptions {
        BuildOptions {
            task,
            format,
            seed: 0,
            ratios: [0.8, 0.1, 0.1],
            min_patients_per_split: 50,
            expand_abbreviations: false,
            dedup: DedupConfig::default(),
            quality: QualityConfig::default(),
            custom: None,
        }
    }
}

/// One training example before formatting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Example {
    /// Source document.
    pub doc_id: String,
    /// Patient pseudonym.
    pub patient_key: String,
    /// Task instruction (empty for continued pre-training).
    pub instruction: String,
    /// Input (the note or part of it).
    pub input: String,
    /// Expected output.
    pub output: String,
}

impl Example {
    fn prompt(&self) -> String {
        match (self.instruction.is_empty(), self.input.is_empty()) {
            (true, _) => self.input.clone(),
            (false, true) => self.instruction.clone(),
            (false, false) => format!("{}\n\n{}", self.instruction, self.input),
        }
    }
}

/// A built, not yet written, dataset.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Examples per split, in patient-timeline order.
    pub splits: BTreeMap<Split, Vec<Example>>,
    /// Patient keys per split (sorted).
    pub patients: BTreeMap<Split, Vec<String>>,
    /// The card (file digests are filled in by [`Dataset::write`]).
    pub card: DatasetCard,
    format: Format,
    seed: u64,
}

/// What [`Dataset::write`] produced.
#[derive(Debug, Clone)]
pub struct WrittenDataset {
    /// The dataset directory.
    pub dir: PathBuf,
    /// The final card.
    pub card: DatasetCard,
    /// sha256 of `card.json`.
    pub card_sha256: String,
}

/// A PHI scanner for the re-scan: its name, and a function returning the
/// category of every span it finds in a text.
pub type PhiScanner<'a> = (&'a str, &'a dyn Fn(&str) -> Vec<String>);

/// Builds a dataset from records. `phi` re-scans every finished example;
/// pass `None` only when no scanner exists (the card then says so).
pub fn build(
    mut records: Vec<Record>,
    opts: &BuildOptions,
    phi: Option<PhiScanner<'_>>,
) -> Result<Dataset, Error> {
    if opts.task == Task::ContinuedPretraining && opts.format != Format::Text {
        return Err(Error::Invalid(format!(
            "task continued-pretraining makes plain text — use --format text, not {}",
            opts.format.as_str()
        )));
    }
    if opts.task == Task::Custom && opts.custom.is_none() {
        return Err(Error::Invalid(
            "task custom needs a template file (instruction, input, output as minijinja)".into(),
        ));
    }
    if opts.ratios.iter().any(|r| *r < 0.0 || !r.is_finite())
        || opts.ratios.iter().sum::<f64>() <= 0.0
    {
        return Err(Error::Invalid(format!(
            "split ratios {:?} must be non-negative and not all zero",
            opts.ratios
        )));
    }
    let custom_env = opts.custom.as_ref().map(compile_custom).transpose()?;
    // Timeline order, so that the first occurrence kept is the earliest note.
    records.sort_by(|a, b| {
        (&a.patient_key, &a.written_at, &a.doc_id).cmp(&(&b.patient_key, &b.written_at, &b.doc_id))
    });
    let documents_in = records.len();
    let mut quality_dropped: BTreeMap<String, usize> = BTreeMap::new();
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    let mut dedup = Deduper::new(DedupConfig {
        seed: opts.dedup.seed ^ opts.seed,
        ..opts.dedup.clone()
    });
    let mut examples: Vec<Example> = Vec::new();
    for rec in &records {
        let q = assess(&rec.text, &opts.quality);
        if !q.passes(&opts.quality) {
            let flag = q.flags.first().map_or("low_score".to_string(), |f| {
                serde_json::to_value(f)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            });
            *quality_dropped.entry(flag).or_default() += 1;
            continue;
        }
        let verdict = dedup.add(&rec.patient_key, &rec.text);
        let Some(kept) = verdict.kept_text(&rec.text) else {
            *skipped
                .entry("exact duplicate document".into())
                .or_default() += 1;
            continue;
        };
        let text = if opts.expand_abbreviations {
            insitu_text::abbreviations::expand_abbreviations(&kept)
        } else {
            kept
        };
        match extract(opts.task, rec, &text, custom_env.as_ref()) {
            Ok((instruction, input, output)) => examples.push(Example {
                doc_id: rec.doc_id.clone(),
                patient_key: rec.patient_key.clone(),
                instruction,
                input,
                output,
            }),
            Err(reason) => *skipped.entry(reason.into()).or_default() += 1,
        }
    }
    if examples.is_empty() {
        return Err(Error::NoExamples {
            task: opts.task.to_string(),
            considered: documents_in,
            skipped: skipped
                .iter()
                .chain(&quality_dropped)
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let assignment = assign_splits(
        examples.iter().map(|e| e.patient_key.as_str()),
        opts.seed,
        opts.ratios,
    );
    let mut splits: BTreeMap<Split, Vec<Example>> =
        Split::ALL.iter().map(|s| (*s, Vec::new())).collect();
    for e in examples {
        splits
            .get_mut(&assignment[&e.patient_key])
            .expect("every split exists")
            .push(e);
    }
    let mut patients: BTreeMap<Split, Vec<String>> = BTreeMap::new();
    for (s, ex) in &splits {
        let set: BTreeSet<&str> = ex.iter().map(|e| e.patient_key.as_str()).collect();
        patients.insert(*s, set.into_iter().map(str::to_string).collect());
    }
    for s in Split::ALL {
        let n = patients[&s].len();
        if n < opts.min_patients_per_split {
            return Err(Error::CohortTooSmall {
                split: s,
                patients: n,
                minimum: opts.min_patients_per_split,
            });
        }
    }
    let all: Vec<&Example> = splits.values().flatten().collect();
    let phi_rescan = match phi {
        Some((name, scan)) => {
            let mut by_category: BTreeMap<String, usize> = BTreeMap::new();
            let mut examples_with_spans = 0;
            for e in &all {
                let found = scan(&format!("{}\n{}", e.prompt(), e.output));
                if !found.is_empty() {
                    examples_with_spans += 1;
                }
                for c in found {
                    *by_category.entry(c).or_default() += 1;
                }
            }
            PhiRescan::Scanned {
                scanner: name.to_string(),
                spans: by_category.values().sum(),
                examples_with_spans,
                by_category,
            }
        }
        None => PhiRescan::NotRun {
            reason: "no PHI scanner was available to the builder".into(),
        },
    };
    let card = DatasetCard {
        task: opts.task.to_string(),
        format: opts.format.as_str().into(),
        seed: opts.seed,
        min_patients_per_split: opts.min_patients_per_split,
        abbreviations_expanded: opts.expand_abbreviations,
        splits: splits
            .iter()
            .map(|(s, ex)| {
                (
                    *s,
                    SplitCounts {
                        examples: ex.len(),
                        patients: patients[s].len(),
                    },
                )
            })
            .collect(),
        documents_in,
        quality_dropped,
        dedup: dedup.report().clone(),
        skipped,
        prompt_tokens: LengthStats::of(
            all.iter()
                .map(|e| e.prompt().split_whitespace().count())
                .collect(),
        ),
        output_tokens: LengthStats::of(
            all.iter()
                .map(|e| e.output.split_whitespace().count())
                .collect(),
        ),
        assertion_mix: assertion_mix(&all),
        phi_rescan,
        files: BTreeMap::new(),
    };
    Ok(Dataset {
        splits,
        patients,
        card,
        format: opts.format,
        seed: opts.seed,
    })
}

/// Common findings whose assertion status the card summarises.
const FINDINGS: &[&str] = &[
    "chest pain",
    "shortness of breath",
    "breathlessness",
    "fever",
    "cough",
    "vomiting",
    "nausea",
    "headache",
    "abdominal pain",
    "back pain",
    "syncope",
    "palpitations",
    "haemoptysis",
    "pneumothorax",
    "pleural effusion",
    "consolidation",
    "pneumonia",
    "fracture",
    "haemorrhage",
    "dissection",
    "pulmonary embolism",
    "dvt",
    "stroke",
    "sepsis",
    "diabetes",
    "hypertension",
    "asthma",
    "copd",
    "heart failure",
    "myocardial infarction",
    "cancer",
    "malignancy",
    "appendicitis",
    "cholecystitis",
    "obstruction",
    "bleeding",
    "confusion",
    "weight loss",
    "rash",
];

fn assertion_mix(examples: &[&Example]) -> BTreeMap<String, usize> {
    let mut mix = BTreeMap::new();
    for e in examples {
        let text = format!("{}\n{}", e.input, e.output);
        let lower = text.to_lowercase();
        for f in FINDINGS {
            // to_lowercase keeps byte offsets for ASCII; skip texts where it does not.
            if lower.len() != text.len() {
                break;
            }
            if let Some(at) = lower.find(f) {
                let a = insitu_text::assertion::assert_span(&text, at..at + f.len());
                *mix.entry(a.as_str().to_string()).or_default() += 1;
            }
        }
    }
    mix
}

impl Dataset {
    fn line(&self, e: &Example, split_examples: &[Example], index: usize) -> serde_json::Value {
        use serde_json::json;
        let mut v = match self.format {
            Format::Alpaca => {
                json!({"instruction": e.instruction, "input": e.input, "output": e.output})
            }
            Format::Messages => {
                let mut m = Vec::new();
                if !e.instruction.is_empty() {
                    m.push(json!({"role": "system", "content": e.instruction}));
                }
                m.push(json!({"role": "user", "content": if e.input.is_empty() { &e.instruction } else { &e.input }}));
                m.push(json!({"role": "assistant", "content": e.output}));
                json!({"messages": m})
            }
            Format::Preference => {
                json!({"prompt": e.prompt(), "chosen": e.output, "rejected": rejected_for(split_examples, index, self.seed)})
            }
            Format::Text => {
                if e.instruction.is_empty() && e.input.is_empty() {
                    json!({"text": e.output})
                } else {
                    json!({"text": format!("### Instruction:\n{}\n\n### Input:\n{}\n\n### Response:\n{}", e.instruction, e.input, e.output)})
                }
            }
        };
        // Provenance columns let checks prove patient disjointness; trainers ignore them.
        v["doc_id"] = json!(e.doc_id);
        v["patient_key"] = json!(e.patient_key);
        v
    }

    /// Writes `train.jsonl`, `validation.jsonl`, `test.jsonl`, `splits.json`,
    /// `card.json` and `card.md` into `dir`, which must not exist or be empty.
    /// Files are written to a sibling temporary directory that is renamed
    /// into place, so a crash leaves either no dataset or a whole one.
    pub fn write(&self, dir: &Path) -> Result<WrittenDataset, Error> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { path, source }
        };
        if dir.exists() {
            let mut entries = std::fs::read_dir(dir).map_err(io(dir))?;
            if entries.next().is_some() {
                return Err(Error::Invalid(format!("{}: directory is not empty — choose a new --out directory; datasets are never overwritten", dir.display())));
            }
            std::fs::remove_dir(dir).map_err(io(dir))?;
        }
        let parent = dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(io(parent))?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "dataset".into());
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
        }
        std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        let mut card = self.card.clone();
        for (split, examples) in &self.splits {
            let mut bytes = Vec::new();
            for (i, e) in examples.iter().enumerate() {
                serde_json::to_writer(&mut bytes, &self.line(e, examples, i))?;
                bytes.push(b'\n');
            }
            let file = format!("{}.jsonl", split.as_str());
            card.files.insert(file.clone(), sha256_hex(&bytes));
            std::fs::write(tmp.join(&file), &bytes).map_err(io(&tmp.join(&file)))?;
        }
        let splits_json = serde_json::to_vec_pretty(&serde_json::json!({
            "seed": self.seed,
            "patients": self.patients.iter().map(|(s, p)| (s.as_str(), p)).collect::<BTreeMap<_, _>>(),
        }))?;
        card.files
            .insert("splits.json".into(), sha256_hex(&splits_json));
        std::fs::write(tmp.join("splits.json"), &splits_json)
            .map_err(io(&tmp.join("splits.json")))?;
        let card_json = serde_json::to_vec_pretty(&card)?;
        std::fs::write(tmp.join("card.json"), &card_json).map_err(io(&tmp.join("card.json")))?;
        std::fs::write(tmp.join("card.md"), card.markdown()).map_err(io(&tmp.join("card.md")))?;
        std::fs::rename(&tmp, dir).map_err(io(dir))?;
        Ok(WrittenDataset {
            dir: dir.to_path_buf(),
            card,
            card_sha256: sha256_hex(&card_json),
        })
    }
}

/// A weak negative for preference data: the output of another example in the
/// same split (never another split, so no patient crosses), chosen by seed.
fn rejected_for(examples: &[Example], index: usize, seed: u64) -> String {
    let n = examples.len();
    let own = &examples[index].output;
    if n < 2 {
        return String::new();
    }
    let start = (splitmix(seed ^ index as u64) % n as u64) as usize;
    (0..n)
        .map(|k| (start + k) % n)
        .find(|&j| j != index && examples[j].output != *own)
        .map_or(String::new(), |j| examples[j].output.clone())
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
