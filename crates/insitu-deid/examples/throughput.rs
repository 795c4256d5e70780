//! Quick single-core scan throughput on a synthetic corpus, for profiling
//! without building xtask: `cargo run --release -p insitu-deid --example throughput`.
//! `cargo xtask bench deid` is the reported benchmark. Prints MB per
//! wall-clock second and MB per second of this thread's CPU time (the
//! honest per-core figure when other processes share the cores).

use insitu_synth::{Corpus, SynthConfig};
use std::time::Instant;

/// CPU time this thread has run, from Linux schedstat (nanoseconds).
fn thread_cpu_secs() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

fn main() {
    let corpus = Corpus::generate(&SynthConfig {
        patients: 100,
        seed: 11,
        us_share: 0.4,
    });
    let bytes: usize = corpus.notes.iter().map(|n| n.text.len()).sum();
    let _ = insitu_deid::scan("warm up");
    let cpu0 = thread_cpu_secs();
    let start = Instant::now();
    let mut spans = 0;
    let mut passes = 0;
    while passes == 0 || start.elapsed().as_secs_f64() < 2.0 {
        for n in &corpus.notes {
            spans += insitu_deid::scan(&n.text).len();
        }
        passes += 1;
    }
    let mb = bytes as f64 * passes as f64 / 1e6;
    let wall = mb / start.elapsed().as_secs_f64();
    let cpu = match (cpu0, thread_cpu_secs()) {
        (Some(a), Some(b)) if b > a => format!("{:.2}", mb / (b - a)),
        _ => "n/a".to_string(),
    };
    println!("{wall:.2} MB/s wall-clock, {cpu} MB/s per CPU-second ({spans} spans, {passes} passes over {bytes} bytes)");
}
