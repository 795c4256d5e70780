//! `insitu deid`: de-identify notes from files (no home needed) or every
//! ingested document of a home; `insitu deid eval` scores spans.

use crate::exit::input;
use crate::Global;
use anyhow::Context;
use insitu_deid::{AgePolicy, Detector, DetectorConfig, EvalReport, Mode, Replacer, SurrogateKey};
use insitu_types::SpanRecord;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `insitu deid`.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// Score predicted spans against gold spans (span exact/overlap, token level).
    Eval(EvalArgs),
}

/// Replacement mode on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum ModeArg {
    /// Realistic fake values, consistent per patient; dates shifted per patient.
    Surrogate,
    /// Category tags: [NAME], [DATE], …
    Tag,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum AgesArg {
    /// Every stated age is PHI (i2b2 convention).
    All,
    /// Only ages over 89 (HIPAA Safe Harbor).
    Over89,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// A directory of .txt notes, or a JSONL file of {id, text[, patient_id]}.
    /// Without it, every ingested document of the home not yet de-identified is processed.
    #[arg(long, value_name = "PATH")]
    input: Option<PathBuf>,
    /// Where de-identified notes go (same file names / ids as the input).
    #[arg(long, value_name = "DIR", requires = "input")]
    output: Option<PathBuf>,
    /// Also write detected spans as JSON lines {doc, start, end, category}
    /// (UTF-8 byte offsets into the input text).
    #[arg(long, value_name = "FILE")]
    spans: Option<PathBuf>,
    /// How detected spans are replaced.
    #[arg(long, value_enum, default_value = "surrogate")]
    mode: ModeArg,
    /// Decode non-UTF-8 input lossily (invalid bytes become U+FFFD) instead of refusing it.
    #[arg(long)]
    lossy: bool,
    /// File with the secret (≥ 16 bytes) that keys surrogates and date shifts,
    /// so that runs are consistent. File mode without it uses a random key.
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Which ages count as PHI.
    #[arg(long, value_enum, default_value = "all")]
    ages: AgesArg,
    /// Do not treat clock times (14:30, 2pm) as PHI.
    #[arg(long)]
    no_times: bool,
    /// Also treat a year standing alone ("diagnosed 1979") as PHI.
    #[arg(long)]
    years: bool,
    /// An extra local identifier pattern (Rust regex syntax), repeatable.
    #[arg(long = "id-pattern", value_name = "REGEX")]
    id_patterns: Vec<String>,
}

#[derive(clap::Args, Debug)]
struct EvalArgs {
    /// Gold spans, JSON lines {doc, start, end, category}.
    #[arg(long, value_name = "FILE")]
    gold: PathBuf,
    /// Predicted spans in the same format.
    #[arg(long, value_name = "FILE")]
    pred: PathBuf,
    /// The notes (directory of .txt or JSONL {id, text}); enables token-level scores.
    #[arg(long, value_name = "PATH")]
    notes: Option<PathBuf>,
    /// Show the text of misses and false alarms (contains PHI: never share it).
    #[arg(long)]
    show: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// How many misses and false alarms to list (0 = all).
    #[arg(long, default_value_t = 50)]
    limit: usize,
}

/// Runs `insitu deid`.
pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    match args.command {
        Some(Sub::Eval(e)) => eval(e),
        None => match &args.run.input {
            Some(_) => file_mode(&args.run, g),
            None => pipeline_mode(&args.run, g),
        },
    }
}

fn detector(run: &RunArgs) -> anyhow::Result<Detector> {
    let config = DetectorConfig {
        ages: match run.ages {
            AgesArg::All => AgePolicy::All,
            AgesArg::Over89 => AgePolicy::Over89,
        },
        times: !run.no_times,
        extra_id_patterns: run.id_patterns.clone(),
        years_alone: run.years,
    };
    Detector::new(config).map_err(|e| input(format!("--id-pattern: {e}")))
}

fn mode(run: &RunArgs) -> Mode {
    match run.mode {
        ModeArg::Surrogate => Mode::Surrogate,
        ModeArg::Tag => Mode::Tag,
    }
}

/// One note read from the input.
struct Note {
    id: String,
    patient: Option<String>,
    text: String,
    /// The JSONL object it came from (to write back with the text replaced).
    json: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Notes from a directory of .txt or a JSONL file; the count of invalid
/// UTF-8 sequences replaced under `--lossy`.
struct Notes {
    notes: Vec<Note>,
    jsonl: bool,
    lossy_replacements: usize,
}

fn decode(
    path: &Path,
    bytes: Vec<u8>,
    lossy: bool,
    replaced: &mut usize,
) -> anyhow::Result<String> {
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) if lossy => {
            let bytes = e.into_bytes();
            *replaced += bytes.utf8_chunks().filter(|c| !c.invalid().is_empty()).count();
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        }
        Err(e) => Err(input(format!(
            "{}: not valid UTF-8 (first bad byte at offset {}) — convert it to UTF-8, or pass --lossy to replace bad bytes",
            path.display(),
            e.utf8_error().valid_up_to()
        ))),
    }
}

fn read_notes(path: &Path, lossy: bool) -> anyhow::Result<Notes> {
    let mut replaced = 0;
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("reading directory {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(input(format!(
                "{}: no .txt files — give a directory of .txt notes or a JSONL file",
                path.display()
            )));
        }
        let mut notes = Vec::with_capacity(files.len());
        for f in files {
            let bytes = std::fs::read(&f).with_context(|| format!("reading {}", f.display()))?;
            let text = decode(&f, bytes, lossy, &mut replaced)?;
            let id = f
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            notes.push(Note {
                id,
                patient: None,
                text,
                json: None,
            });
        }
        return Ok(Notes {
            notes,
            jsonl: false,
            lossy_replacements: replaced,
        });
    }
    let bytes =
        std::fs::read(path).map_err(|e| input(format!("{}: cannot read: {e}", path.display())))?;
    let all = decode(path, bytes, lossy, &mut replaced)?;
    let mut notes = Vec::new();
    for (i, line) in all.lines().enumerate() {
        let at = format!("{}:{}", path.display(), i + 1);
        if line.trim().is_empty() {
            continue;
        }
        let obj: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(line).map_err(|e| {
                input(format!(
                    "{at}: not a JSON object ({e}) — every line needs {{id, text}}"
                ))
            })?;
        let id = match obj.get("id") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => {
                return Err(input(format!(
                    "{at}: field \"id\" is missing — every line needs {{id, text}}"
                )))
            }
        };
        let Some(serde_json::Value::String(text)) = obj.get("text") else {
            return Err(input(format!(
                "{at}: field \"text\" is missing or not a string — every line needs {{id, text}}"
            )));
        };
        let patient = match obj.get("patient_id") {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        notes.push(Note {
            id,
            patient,
            text: text.clone(),
            json: Some(obj),
        });
    }
    Ok(Notes {
        notes,
        jsonl: true,
        lossy_replacements: replaced,
    })
}

fn key_from_file(path: &Path) -> anyhow::Result<SurrogateKey> {
    let bytes = std::fs::read(path)
        .map_err(|e| input(format!("--key-file {}: cannot read: {e}", path.display())))?;
    SurrogateKey::from_bytes(&bytes)
        .map_err(|e| input(format!("--key-file {}: {e}", path.display())))
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn file_mode(run: &RunArgs, g: &Global) -> anyhow::Result<()> {
    let path = run.input.as_ref().expect("file mode has --input");
    let Some(out_dir) = &run.output else {
        return Err(input("--output DIR is required with --input"));
    };
    let notes = read_notes(path, run.lossy)?;
    if notes.lossy_replacements > 0 {
        eprintln!(
            "warning: {}: replaced {} invalid UTF-8 sequence(s) with U+FFFD (--lossy); span offsets refer to the decoded text",
            path.display(),
            notes.lossy_replacements
        );
    }
    let key = match &run.key_file {
        Some(k) => key_from_file(k)?,
        None => {
            if run.mode.is_surrogate() {
                eprintln!("warning: no --key-file: surrogates use a random key and will not be consistent across runs");
            }
            SurrogateKey::random()
        }
    };
    let detector = detector(run)?;
    let replacer = Replacer::new(key, mode(run));
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let mut span_lines = String::new();
    let mut jsonl_out = String::new();
    let mut counts: std::collections::BTreeMap<&'static str, usize> = Default::default();
    for note in &notes.notes {
        let spans = detector.scan(&note.text);
        for s in &spans {
            *counts.entry(s.category.as_str()).or_default() += 1;
            let rec = SpanRecord {
                doc: note.id.clone(),
                start: s.start,
                end: s.end,
                category: s.category,
            };
            span_lines.push_str(&serde_json::to_string(&rec)?);
            span_lines.push('\n');
        }
        let patient = note.patient.as_deref().unwrap_or(&note.id);
        let clean = replacer.replace(&note.text, &spans, patient);
        match &note.json {
            Some(obj) => {
                let mut obj = obj.clone();
                obj.insert("text".into(), serde_json::Value::String(clean));
                jsonl_out.push_str(&serde_json::to_string(&obj)?);
                jsonl_out.push('\n');
            }
            None => write_atomic(&out_dir.join(format!("{}.txt", note.id)), clean.as_bytes())?,
        }
    }
    if notes.jsonl {
        let name = path.file_name().unwrap_or_default();
        write_atomic(&out_dir.join(name), jsonl_out.as_bytes())?;
    }
    if let Some(sp) = &run.spans {
        if let Some(parent) = sp.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        write_atomic(sp, span_lines.as_bytes())?;
    }
    if !g.quiet {
        let summary: Vec<String> = counts.iter().map(|(c, n)| format!("{c} {n}")).collect();
        println!(
            "de-identified {} note(s) into {} ({})",
            notes.notes.len(),
            out_dir.display(),
            if summary.is_empty() {
                "no PHI found".to_string()
            } else {
                summary.join(", ")
            }
        );
    }
    Ok(())
}

impl ModeArg {
    fn is_surrogate(self) -> bool {
        matches!(self, ModeArg::Surrogate)
    }
}

fn pipeline_mode(run: &RunArgs, g: &Global) -> anyhow::Result<()> {
    if run.spans.is_some() || run.key_file.is_some() || run.lossy {
        return Err(input(
            "--spans, --key-file and --lossy apply to file mode (--input); with a home the store keeps spans and the home's secret keys surrogates",
        ));
    }
    let home = g.home_dir();
    let mut store = insitu_store::Store::open(&home).map_err(|e| match e {
        insitu_store::StoreError::NotInitialised(_) => input(e.to_string()),
        e => anyhow::Error::new(e),
    })?;
    let secret = store
        .home()
        .hmac_secret()
        .context("reading the home's HMAC secret")?;
    // A key of its own for surrogates, derived from the home secret, so that
    // surrogate choices reveal nothing about patient pseudonyms.
    let mut key_material = b"insitu deid surrogates v1\0".to_vec();
    key_material.extend_from_slice(&secret);
    let key = SurrogateKey::from_bytes(&key_material)?;
    let pending = store.documents_pending_deid()?;
    if pending.is_empty() {
        if !g.quiet {
            println!(
                "nothing to de-identify: every ingested document in {} is done",
                home.display()
            );
        }
        return Ok(());
    }
    let detector = detector(run)?;
    let replacer = Replacer::new(key, mode(run));
    let mut risk = RiskTally::default();
    let mut results = Vec::with_capacity(pending.len());
    for id in pending {
        let doc = store
            .document(id)?
            .with_context(|| format!("document {id} vanished while de-identifying"))?;
        let spans = detector.scan(&doc.text);
        let patient = doc
            .patient_key
            .as_ref()
            .map(|k| k.0.clone())
            .unwrap_or_else(|| format!("doc-{id}"));
        let clean = replacer.replace(&doc.text, &spans, &patient);
        risk.add(&doc.text, &spans);
        let rows: Vec<insitu_store::deid::DeidSpanRow> = spans
            .iter()
            .map(|s| insitu_store::deid::DeidSpanRow {
                start: s.start,
                end: s.end,
                category: s.category,
                detector: s.detector.to_string(),
                confidence: f64::from(s.confidence),
            })
            .collect();
        results.push((id, clean, rows));
    }
    let settings = serde_json::json!({
        "detector": detector.config(),
        "mode": mode(run),
    });
    let version = env!("CARGO_PKG_VERSION");
    let counts = serde_json::to_value(&risk.by_category)?;
    let actor = g.actor();
    let run_id = store.tx(|tx| {
        let run_id = tx.begin_deid_run(&insitu_store::deid::NewDeidRun {
            actor: &actor,
            tool_version: version,
            settings: &settings,
        })?;
        for (id, clean, rows) in &results {
            tx.store_deidentified(run_id, *id, clean, rows)?;
        }
        tx.finish_deid_run(run_id, results.len(), risk.spans, &counts)?;
        tx.audit(
            &actor,
            "deid.run",
            &format!("deid-run-{run_id}"),
            serde_json::json!({
                "documents": results.len(),
                "spans": risk.spans,
                "counts": counts,
                "settings": settings,
                "tool_version": version,
            }),
        )?;
        Ok::<i64, insitu_store::StoreError>(run_id)
    })?;
    let report = risk.report(run_id, results.len(), &settings, version);
    let dir = store.home().reports_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let json_path = dir.join(format!("deid-run-{run_id}.json"));
    let md_path = dir.join(format!("deid-run-{run_id}.md"));
    write_atomic(
        &json_path,
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    write_atomic(&md_path, risk_markdown(&report).as_bytes())?;
    if !g.quiet {
        println!(
            "de-identified {} document(s) in run {run_id}: {} span(s); residual-risk report {}",
            results.len(),
            risk.spans,
            md_path.display()
        );
    }
    Ok(())
}

/// Counts behind the residual-risk report. Holds no note text.
#[derive(Default)]
struct RiskTally {
    spans: usize,
    by_category: std::collections::BTreeMap<&'static str, usize>,
    by_detector: std::collections::BTreeMap<&'static str, usize>,
    low_confidence: usize,
    documents_without_spans: usize,
    unexplained_words: usize,
    documents_with_unexplained: usize,
    words: usize,
}

impl RiskTally {
    fn add(&mut self, text: &str, spans: &[insitu_deid::Span]) {
        self.spans += spans.len();
        for s in spans {
            *self.by_category.entry(s.category.as_str()).or_default() += 1;
            *self.by_detector.entry(s.detector).or_default() += 1;
            if s.confidence < 0.7 {
                self.low_confidence += 1;
            }
        }
        if spans.is_empty() {
            self.documents_without_spans += 1;
        }
        let unexplained = insitu_deid::unexplained_capitalised_words(text, spans);
        self.unexplained_words += unexplained;
        self.documents_with_unexplained += usize::from(unexplained > 0);
        self.words += text.split_whitespace().count();
    }

    fn report(
        &self,
        run_id: i64,
        documents: usize,
        settings: &serde_json::Value,
        version: &str,
    ) -> serde_json::Value {
        serde_json::json!({
            "run_id": run_id,
            "generated_at": chrono_now(),
            "tool_version": version,
            "settings": settings,
            "documents": documents,
            "words": self.words,
            "spans": self.spans,
            "spans_by_category": self.by_category,
            "spans_by_detector": self.by_detector,
            "low_confidence_spans": self.low_confidence,
            "documents_without_spans": self.documents_without_spans,
            "unexplained_capitalised_words": self.unexplained_words,
            "documents_with_unexplained_capitalised_words": self.documents_with_unexplained,
            "known_gaps": KNOWN_GAPS,
        })
    }
}

const KNOWN_GAPS: &[&str] = &[
    "a first name that is also an everyday word (Will, Hope, May) with no title, field label or relation word beside it",
    "places and organisations missing from the GeoNames/census lists (districts, shops, pubs, small villages)",
    "bare numbers whose meaning only context gives (an age written as 'Jack is 4')",
    "identifiers in local formats not covered by --id-pattern",
];

fn chrono_now() -> String {
    // The binary has no chrono dependency; seconds since the epoch are enough here.
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("unix:{secs}")
}

fn risk_markdown(r: &serde_json::Value) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let n = |k: &str| r[k].as_u64().unwrap_or(0);
    let _ = writeln!(
        s,
        "# De-identification run {} — residual-risk report\n",
        r["run_id"]
    );
    let _ = writeln!(
        s,
        "insitu {} de-identified **{}** document(s) ({} words) and replaced **{}** span(s) in mode `{}`.\n",
        r["tool_version"].as_str().unwrap_or("?"),
        n("documents"),
        n("words"),
        n("spans"),
        r["settings"]["mode"].as_str().unwrap_or("?")
    );
    let _ = writeln!(s, "## What was found\n\n| category | spans |\n|---|---|");
    if let Some(obj) = r["spans_by_category"].as_object() {
        for (k, v) in obj {
            let _ = writeln!(s, "| {k} | {v} |");
        }
    }
    let _ = writeln!(s, "\n## Residual risk\n");
    let _ = writeln!(
        s,
        "- **{}** capitalised word(s) in **{}** document(s) were left in place although no word list explains them. Each may be a missed name or place; sample these documents before release.",
        n("unexplained_capitalised_words"),
        n("documents_with_unexplained_capitalised_words")
    );
    let _ = writeln!(
        s,
        "- **{}** span(s) were found only with low confidence (dictionary hits without context); they were replaced, but similar words elsewhere may have been missed.",
        n("low_confidence_spans")
    );
    let _ = writeln!(
        s,
        "- **{}** document(s) had no span at all; short notes can be PHI-free, long ones deserve a look.",
        n("documents_without_spans")
    );
    let _ = writeln!(
        s,
        "\nKnown gaps of the detector (see docs/deid.md for measured recall and precision):\n"
    );
    if let Some(gaps) = r["known_gaps"].as_array() {
        for g in gaps {
            let _ = writeln!(s, "- {}", g.as_str().unwrap_or(""));
        }
    }
    let _ = writeln!(
        s,
        "\nThis report holds counts only, never note text. The run is recorded in the audit log as `deid.run` (subject `deid-run-{}`).",
        r["run_id"]
    );
    s
}

fn read_spans(path: &Path) -> anyhow::Result<Vec<SpanRecord>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| input(format!("{}: cannot read: {e}", path.display())))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let rec: SpanRecord = serde_json::from_str(line).map_err(|e| {
            input(format!(
                "{}:{}: {e} — every line needs {{doc, start, end, category}}",
                path.display(),
                i + 1
            ))
        })?;
        if rec.start > rec.end {
            return Err(input(format!(
                "{}:{}: start {} is after end {}",
                path.display(),
                i + 1,
                rec.start,
                rec.end
            )));
        }
        out.push(rec);
    }
    Ok(out)
}

fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let gold = read_spans(&args.gold)?;
    let pred = read_spans(&args.pred)?;
    let notes = match &args.notes {
        Some(p) => Some(
            read_notes(p, true)?
                .notes
                .into_iter()
                .map(|n| (n.id, n.text))
                .collect::<HashMap<_, _>>(),
        ),
        None => None,
    };
    let mut report = evaluate_report(&gold, &pred, notes.as_ref(), args.show);
    let totals = (report.misses.len(), report.false_positives.len());
    if args.limit > 0 {
        report.misses.truncate(args.limit);
        report.false_positives.truncate(args.limit);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    print!("{}", render_report(&report, totals));
    Ok(())
}

fn evaluate_report(
    gold: &[SpanRecord],
    pred: &[SpanRecord],
    notes: Option<&HashMap<String, String>>,
    show: bool,
) -> EvalReport {
    insitu_deid::evaluate(gold, pred, notes, show)
}

fn render_report(r: &EvalReport, (total_misses, total_false): (usize, usize)) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let row = |s: &mut String, name: &str, x: &insitu_deid::Scores| {
        let _ = writeln!(
            s,
            "  {name:<14} P {:.4}  R {:.4}  F1 {:.4}   (found {}/{} gold, {}/{} predictions correct)",
            x.precision, x.recall, x.f1, x.found, x.gold, x.correct, x.predicted
        );
    };
    let _ = writeln!(s, "documents: {}", r.documents);
    row(&mut s, "span exact", &r.exact);
    row(&mut s, "span overlap", &r.overlap);
    if let Some(t) = &r.token {
        row(&mut s, "token", t);
    }
    let _ = writeln!(
        s,
        "per category (overlap{}):",
        if r.token.is_some() { "; token" } else { "" }
    );
    for c in &r.per_category {
        row(&mut s, c.category.as_str(), &c.overlap);
        if let Some(t) = &c.token {
            row(&mut s, "  token", t);
        }
    }
    let _ = writeln!(
        s,
        "misses (gold spans no prediction touched): {total_misses} (listing {})",
        r.misses.len()
    );
    for m in &r.misses {
        let _ = writeln!(
            s,
            "  {} {}..{} {}{}",
            m.doc,
            m.start,
            m.end,
            m.category,
            m.text
                .as_deref()
                .map(|t| format!(" {t:?}"))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(
        s,
        "false alarms (predictions touching no gold span): {total_false} (listing {})",
        r.false_positives.len()
    );
    for m in &r.false_positives {
        let _ = writeln!(
            s,
            "  {} {}..{} {}{}",
            m.doc,
            m.start,
            m.end,
            m.category,
            m.text
                .as_deref()
                .map(|t| format!(" {t:?}"))
                .unwrap_or_default()
        );
    }
    s
}
