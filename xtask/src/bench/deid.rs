//! `cargo xtask bench deid [--patients N] [--seed S] [--secs T]`: single-core
//! de-identification throughput on a synthetic corpus (insitu-synth).
//!
//! Times `Detector::scan` alone and scan + surrogate replacement, on one
//! thread, repeating over the corpus until at least `--secs` have passed.
//! The figures are MB of note text per wall-clock second and per second of
//! the benchmark thread's CPU time (Linux schedstat): on a shared machine
//! the second is the per-core figure. Target: >= 20 MB/s per core.
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

    let (scan_rate, scan_cpu, scan_warm) = measure(secs, bytes, || {
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
    let (full_rate, full_cpu, _) = measure(secs, bytes, || {
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
    let cpu = |r: Option<f64>| r.map_or_else(|| "n/a".to_string(), |r| format!("{r:8.2}"));
    println!(
        "scan only:            {scan_rate:8.2} MB/s wall-clock, {} MB/s per CPU-second ({profile} build)",
        cpu(scan_cpu)
    );
    // The figures above include the first pass, which also builds the
    // lazy DFA of the pattern automaton (once per process and thread).
    if let Some(w) = scan_warm {
        println!(
            "  of which warm-up:   first pass {:.3} s CPU (a steady pass takes {:.3} s), then steady-state {} MB/s per CPU-second",
            w.first_pass_cpu,
            bytes as f64 / 1e6 / w.steady_cpu,
            cpu(Some(w.steady_cpu))
        );
    }
    println!(
        "scan + surrogates:    {full_rate:8.2} MB/s wall-clock, {} MB/s per CPU-second ({profile} build)",
        cpu(full_cpu)
    );
    let per_core = scan_cpu.unwrap_or(scan_rate);
    println!(
        "target {TARGET_MB_S} MB/s per core: {}",
        if per_core >= TARGET_MB_S {
            "met"
        } else {
            "NOT met"
        }
    );
    println!("reference (PERFORMANCE.md, same corpus kind not measured here): PhysioNet deid.pl 9.6 KB/s, Presidio 12 KB/s per core");
    Ok(())
}

/// The first pass apart from the rest, in CPU time.
struct WarmUp {
    /// CPU seconds of the first pass (it builds the lazy DFA).
    first_pass_cpu: f64,
    /// MB per CPU-second over the passes after the first.
    steady_cpu: f64,
}

/// Repeats `pass` until `secs` have elapsed; returns MB per wall-clock
/// second and MB per second of this thread's CPU time (when measurable),
/// both over every pass, and the first pass apart from the others (when
/// there were at least two and CPU time is measurable).
fn measure(
    secs: f64,
    bytes: usize,
    mut pass: impl FnMut() -> usize,
) -> (f64, Option<f64>, Option<WarmUp>) {
    let cpu0 = thread_cpu_secs();
    let start = Instant::now();
    let mut passes = 0u32;
    let mut sink = 0usize;
    let mut cpu1 = None;
    while passes == 0 || start.elapsed().as_secs_f64() < secs {
        sink = sink.wrapping_add(pass());
        passes += 1;
        if passes == 1 {
            cpu1 = thread_cpu_secs();
        }
    }
    std::hint::black_box(sink);
    let mb = bytes as f64 * f64::from(passes) / 1e6;
    let cpu_end = thread_cpu_secs();
    let cpu = match (cpu0, cpu_end) {
        (Some(a), Some(b)) if b > a => Some(mb / (b - a)),
        _ => None,
    };
    let warm = match (cpu0, cpu1, cpu_end) {
        (Some(a), Some(m), Some(b)) if passes >= 2 && b > m => Some(WarmUp {
            first_pass_cpu: m - a,
            steady_cpu: bytes as f64 * f64::from(passes - 1) / 1e6 / (b - m),
        }),
        _ => None,
    };
    (mb / start.elapsed().as_secs_f64(), cpu, warm)
}

/// CPU time this thread has run, from Linux's schedstat (nanoseconds);
/// `None` elsewhere.
fn thread_cpu_secs() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}
