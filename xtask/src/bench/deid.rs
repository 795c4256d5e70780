//! `cargo xtask bench deid [--patients N] [--seed S] [--secs T]`: single-core
//! de-identification throughput on a synthetic corpus (insitu-synth).
//!
//! Times `Detector::scan` alone and scan + surrogate replacement, on one
//! thread, repeating over the corpus until at least `--secs` have passed,
//! after one untimed warm-up pass (reported on its own line).
//! The figures are MB of note text per wall-clock second and per second of
//! the benchmark thread's CPU time (Linux schedstat): on a shared machine
//! the second is the per-core figure. Target: >= 20 MB/s per core.
//! Build profile: `cargo xtask` runs the dev profile, in which insitu-deid
//! is compiled at opt-level 3 (Cargo.toml) but without the release
//! profile's single codegen unit; `cargo run --release -p xtask -- bench
//! deid` measures exactly what a release binary does.

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
    let replacer = Replacer::new(
        SurrogateKey::from_bytes(b"bench-key-0123456789abcdef")?,
        Mode::Surrogate,
    );
    let scan_pass = || {
        let mut spans = 0usize;
        for n in &corpus.notes {
            spans += detector.scan(&n.text).len();
        }
        spans
    };
    let full_pass = || {
        let mut out = 0usize;
        for n in &corpus.notes {
            let spans = detector.scan(&n.text);
            out += replacer.replace(&n.text, &spans, &n.patient_id).len();
        }
        out
    };
    // Warm-up, as any throughput benchmark does before it measures: the
    // first pass builds the lazy DFA of the pattern automaton (once per
    // process and thread) and brings the dictionaries into memory. Its
    // cost is printed on its own line: it is what a short run pays once.
    let first_cpu = thread_cpu_secs();
    let first_start = Instant::now();
    std::hint::black_box(scan_pass());
    let first_wall = first_start.elapsed().as_secs_f64();
    let first = match (first_cpu, thread_cpu_secs()) {
        (Some(a), Some(b)) => b - a,
        _ => first_wall,
    };
    let (scan_rate, scan_cpu) = measure(secs, bytes, scan_pass);
    let (full_rate, full_cpu) = measure(secs, bytes, full_pass);
    let profile = if cfg!(debug_assertions) {
        "dev"
    } else {
        "release"
    };
    let cpu = |r: Option<f64>| r.map_or_else(|| "n/a".to_string(), |r| format!("{r:8.2}"));
    println!(
        "warm-up:              first pass over the corpus {first:.3} s CPU ({:.2} MB/s; builds the pattern automaton's lazy DFA)",
        bytes as f64 / 1e6 / first
    );
    println!(
        "scan only:            {scan_rate:8.2} MB/s wall-clock, {} MB/s per CPU-second ({profile} build, steady state after the warm-up)",
        cpu(scan_cpu)
    );
    println!(
        "scan + surrogates:    {full_rate:8.2} MB/s wall-clock, {} MB/s per CPU-second ({profile} build, steady state)",
        cpu(full_cpu)
    );
    let per_core = scan_cpu.unwrap_or(scan_rate);
    println!(
        "target {TARGET_MB_S} MB/s per core (steady-state scan): {}",
        if per_core >= TARGET_MB_S {
            "met"
        } else {
            "NOT met"
        }
    );
    if cfg!(debug_assertions) {
        println!("note: a dev build keeps overflow checks and debug assertions on; the per-core figure of a release binary: `cargo run --release -p xtask -- bench deid`");
    }
    println!("reference (PERFORMANCE.md, same corpus kind not measured here): PhysioNet deid.pl 9.6 KB/s, Presidio 12 KB/s per core");
    Ok(())
}

/// Repeats `pass` until `secs` have elapsed; returns MB per wall-clock
/// second and MB per second of this thread's CPU time (when measurable).
fn measure(secs: f64, bytes: usize, mut pass: impl FnMut() -> usize) -> (f64, Option<f64>) {
    let cpu0 = thread_cpu_secs();
    let start = Instant::now();
    let mut passes = 0u32;
    let mut sink = 0usize;
    while passes == 0 || start.elapsed().as_secs_f64() < secs {
        sink = sink.wrapping_add(pass());
        passes += 1;
    }
    std::hint::black_box(sink);
    let mb = bytes as f64 * f64::from(passes) / 1e6;
    let cpu = match (cpu0, thread_cpu_secs()) {
        (Some(a), Some(b)) if b > a => Some(mb / (b - a)),
        _ => None,
    };
    (mb / start.elapsed().as_secs_f64(), cpu)
}

/// CPU time this thread has run, from Linux's schedstat (nanoseconds);
/// `None` elsewhere.
fn thread_cpu_secs() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}
