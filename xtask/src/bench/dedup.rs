//! `cargo xtask bench dedup [--notes N] [--seed S] [--threads T]`: copy-forward
//! and near-duplicate removal (insitu-text's MinHash-LSH) over synthetic notes.
//!
//! The generator plants known copies: each patient's later notes copy one or
//! two paragraphs forward (some lightly edited), and a share of notes paste a
//! corpus-wide template paragraph. The bench prints throughput and how many
//! planted copies were found, so the figure is checked, not only timed.
//! Fingerprinting runs on `--threads` workers; the LSH index is one thread.

use insitu_text::dedup::{DedupConfig, Deduper};
use std::time::Instant;

const NOTES_PER_PATIENT: u64 = 5;
const BATCH: u64 = 20_000;

const VOCAB: &[&str] = &[
    "patient",
    "reports",
    "pain",
    "chest",
    "abdominal",
    "worse",
    "better",
    "since",
    "yesterday",
    "morning",
    "evening",
    "nausea",
    "vomiting",
    "fever",
    "cough",
    "breathless",
    "walking",
    "stairs",
    "sleep",
    "appetite",
    "reduced",
    "increased",
    "stable",
    "observations",
    "reviewed",
    "bloods",
    "sent",
    "awaiting",
    "results",
    "plan",
    "continue",
    "antibiotics",
    "fluids",
    "oral",
    "intravenous",
    "review",
    "tomorrow",
    "family",
    "updated",
    "mobilising",
    "physiotherapy",
    "discharge",
    "home",
    "ward",
    "team",
    "consultant",
    "registrar",
    "nursing",
    "staff",
    "concerns",
    "raised",
    "discussed",
    "agreed",
    "management",
    "analgesia",
    "paracetamol",
    "codeine",
    "morphine",
    "renal",
    "function",
    "improving",
    "creatinine",
    "potassium",
    "sodium",
    "haemoglobin",
    "low",
    "high",
    "normal",
    "chest",
    "clear",
    "crackles",
    "bases",
    "soft",
    "tender",
    "non",
    "distended",
    "bowel",
    "sounds",
    "present",
    "catheter",
    "urine",
    "output",
    "adequate",
    "wound",
    "dressing",
    "clean",
    "dry",
];

const TEMPLATE: &str = "Patient identity checked against wristband, allergies confirmed, VTE assessment completed and prescribed as per trust guidance, falls risk assessment completed.";

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn paragraph(rng: &mut Rng) -> String {
    let n = 25 + rng.below(30);
    (0..n)
        .map(|_| VOCAB[rng.below(VOCAB.len() as u64) as usize])
        .collect::<Vec<_>>()
        .join(" ")
        + "."
}

/// Note `i`: patient `i / 5`; note `k` of a patient copies forward from note `k-1`.
/// Returns (patient, text, planted within-patient copies, planted template).
fn note(seed: u64, i: u64) -> (String, String, u32, bool) {
    let patient = i / NOTES_PER_PATIENT;
    let k = i % NOTES_PER_PATIENT;
    // Paragraphs of a patient's note k are derived from per-(patient, slot) seeds,
    // so note k can re-create note k-1's paragraphs without storing them.
    let para = |slot: u64| {
        paragraph(&mut Rng(seed
            ^ patient.wrapping_mul(0x1000_0001)
            ^ slot.wrapping_mul(0x9e37)))
    };
    let mut rng = Rng(seed ^ i.wrapping_mul(0xdead_beef));
    let mut parts = Vec::new();
    let mut copies = 0;
    if k > 0 {
        // Copy forward one or two paragraphs of the previous note (slots 3(k-1)..).
        let n = 1 + rng.below(2);
        for j in 0..n {
            let mut p = para(3 * (k - 1) + j);
            if rng.below(4) == 0 {
                p = p.replacen(" ", " today ", 1); // a light edit
            }
            parts.push(p);
            copies += 1;
        }
    }
    for j in 0..3 {
        parts.push(para(3 * k + j));
    }
    let template = rng.below(10) == 0;
    if template {
        parts.push(TEMPLATE.to_string());
    }
    (
        format!("p{patient:07}"),
        parts.join("\n\n"),
        copies,
        template,
    )
}

/// Runs the dedup benchmark.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let mut notes: u64 = 1_000_000;
    let mut seed: u64 = 42;
    let mut threads: usize = 2;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> anyhow::Result<u64> {
            let v = it
                .next()
                .ok_or_else(|| anyhow::anyhow!("{name} needs a value"))?;
            v.parse()
                .map_err(|_| anyhow::anyhow!("{name} {v:?}: expected a whole number"))
        };
        match a.as_str() {
            "--notes" => notes = value("--notes")?,
            "--seed" => seed = value("--seed")?,
            "--threads" => threads = value("--threads")?.max(1) as usize,
            "--help" | "-h" => {
                println!("cargo xtask bench dedup [--notes N (1000000)] [--seed S (42)] [--threads T (2)]");
                return Ok(());
            }
            other => {
                anyhow::bail!("unknown argument {other:?} — see `cargo xtask bench dedup --help`")
            }
        }
    }
    let mut dedup = Deduper::new(DedupConfig::default());
    let started = Instant::now();
    let (mut planted_copies, mut planted_templates, mut bytes) = (0u64, 0u64, 0u64);
    let mut start = 0;
    while start < notes {
        let end = (start + BATCH).min(notes);
        let per = (end - start).div_ceil(threads as u64);
        let shared = &dedup;
        let batches: Vec<Vec<_>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads as u64)
                .map(|t| {
                    let lo = start + t * per;
                    let hi = (lo + per).min(end);
                    s.spawn(move || {
                        (lo..hi)
                            .map(|i| {
                                let (patient, text, copies, template) = note(seed, i);
                                let fp = shared.fingerprint(&text);
                                (patient, text.len(), copies, template, fp)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("fingerprint worker panicked"))
                .collect()
        });
        for (patient, len, copies, template, fp) in batches.into_iter().flatten() {
            planted_copies += copies as u64;
            planted_templates += template as u64;
            bytes += len as u64;
            dedup.add_fingerprint(&patient, fp);
        }
        start = end;
    }
    let secs = started.elapsed().as_secs_f64();
    let r = dedup.report();
    println!(
        "dedup bench: {notes} synthetic notes, {:.1} MB, {threads} fingerprint threads",
        bytes as f64 / 1e6
    );
    println!("  time              {secs:.1} s");
    println!(
        "  throughput        {:.0} notes/s, {:.1} MB/s",
        notes as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
    println!("  paragraphs        {}", r.paragraphs);
    println!(
        "  copied forward    {} dropped / {} planted ({:.1}% found)",
        r.paragraphs_copied_forward,
        planted_copies,
        100.0 * r.paragraphs_copied_forward as f64 / planted_copies.max(1) as f64
    );
    println!(
        "  near-dup corpus   {} dropped / {} planted template pastes after the first",
        r.paragraphs_near_duplicate,
        planted_templates.saturating_sub(1)
    );
    println!("  exact dup docs    {}", r.documents_duplicate);
    println!(
        "  bytes dropped     {:.1}%",
        100.0 * r.bytes_dropped as f64 / r.bytes.max(1) as f64
    );
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM")) {
            println!(
                "  peak memory       {}",
                line.trim_start_matches("VmHWM:").trim()
            );
        }
    }
    Ok(())
}
