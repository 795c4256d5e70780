//! `cargo xtask bench deid [--patients N] [--seed S] [--secs T]`: single-core
//! de-identification throughput on a synthetic corpus (insitu-synth).
//!
//! Times `Detector::scan` alone and scan + surrogate replacement, on one
//! thread, repeating over the corpus until at least `--secs` have passed.
//! The figure is MB of note text per second per core. Target: >= 20 MB/s.
//! Build profile matters: `cargo xtask` runs the dev profile (our code at
//! opt-level 1); `cargo run --release -p xtask -- bench deid` measures what
//! a release binary does.

use insitu_deid::{Detector, DetectorConfig, Mode, Replacer, SurrogateKey};
use insitu_synth::{Corpus, SynthConfig};
use std::time::Instant;

const TARGET_MB_S: f64 = 20.0;

/// Runs the deid benchmark.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let mut patients: usize = 300;
    let mut seed: u64 = 11;
    let mut secs: f64 = 3.0;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> anyhow::Result<String> {
            it.next()
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("{name} needs a value"))
        };
        match a.as_str() {
            "--patients" => patients = value("--patients")?.parse()?,
            "--seed" => seed = value("--seed")?.parse()?,
            "--secs" => secs = value("--secs")?.parse()?,
            "--help" | "-h" => {
                println!(
                    "cargo xtask bench deid [--patients N (300)] [--seed S (11)] [--secs T (3)]"
                );
                return Ok(());
            }
            other => {
                anyhow::bail!("unknown argument {other:?} — see `cargo xtask bench deid --help`")
            }
        }
    }
    let corpus = Corpus::generate(&SynthConfig {
        patients,
        seed,
        us_share: 0.4,
    });
    let bytes: usize = corpus.notes.iter().map(|n| n.text.len()).sum();
    println!(
        "corpus: {} notes, {:.2} MB (insitu-synth, {patients} patients, seed {seed})",
        corpus.notes.len(),
        bytes as f64 / 1e6
    );
    let detector = Detector::new(DetectorConfig::default())?;
    // Warm up: the dictionaries load once per process.
    let _ = detector.scan(&corpus.notes[0].text);

    let scan_rate = measure(secs, bytes, || {
        let mut spans = 0usize;
        for n in &corpus.notes {
            spans += detector.scan(&n.text).len();
        }
        spans
    });
    let replacer = Replacer::new(
        SurrogateKey::from_bytes(b"bench-key-0123456789abcdef")?,
        Mode::Surrogate,
    );
    let full_rate = measure(secs, bytes, || {
        let mut out = 0usize;
        for n in &corpus.notes {
            let spans = detector.scan(&n.text);
            out += replacer.replace(&n.text, &spans, &n.patient_id).len();
        }
        out
    });
    let profile = if cfg!(debug_assertions) {
        "dev"
    } else {
        "release"
    };
    println!("scan only:            {scan_rate:8.2} MB/s per core ({profile} build)");
    println!("scan + surrogates:    {full_rate:8.2} MB/s per core ({profile} build)");
    println!(
        "target {TARGET_MB_S} MB/s per core: {}",
        if scan_rate >= TARGET_MB_S {
            "met"
        } else {
            "NOT met"
        }
    );
    println!("reference (PERFORMANCE.md, same corpus kind not measured here): PhysioNet deid.pl 9.6 KB/s, Presidio 12 KB/s per core");
    Ok(())
}

/// Repeats `pass` until `secs` have elapsed; returns MB/s.
fn measure(secs: f64, bytes: usize, mut pass: impl FnMut() -> usize) -> f64 {
    let start = Instant::now();
    let mut passes = 0u32;
    let mut sink = 0usize;
    while passes == 0 || start.elapsed().as_secs_f64() < secs {
        sink = sink.wrapping_add(pass());
        passes += 1;
    }
    std::hint::black_box(sink);
    bytes as f64 * f64::from(passes) / start.elapsed().as_secs_f64() / 1e6
}
