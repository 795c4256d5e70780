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
    // DEID_DUMP=FILE writes every span (one line each) so that a speed
    // change can be checked to leave the output unchanged.
    if let Ok(path) = std::env::var("DEID_DUMP") {
        let mut dump = String::new();
        for n in &corpus.notes {
            for s in insitu_deid::scan(&n.text) {
                dump.push_str(&format!(
                    "{} {} {} {:?} {}\n",
                    n.id, s.start, s.end, s.category, s.detector
                ));
            }
        }
        // DEID_EXTRA=FILE,FILE: more texts to dump (each note of a fixture
        // file, split on "---" lines), for styles the generator lacks.
        for file in std::env::var("DEID_EXTRA")
            .unwrap_or_default()
            .split(',')
            .filter(|f| !f.is_empty())
        {
            let text = std::fs::read_to_string(file).expect("read DEID_EXTRA");
            for (i, note) in text.split("\n---\n").enumerate() {
                for s in insitu_deid::scan(note) {
                    dump.push_str(&format!(
                        "{file}#{i} {} {} {:?} {}\n",
                        s.start, s.end, s.category, s.detector
                    ));
                }
            }
        }
        std::fs::write(&path, dump).expect("write DEID_DUMP");
    }
    let cpu0 = thread_cpu_secs();
    let start = Instant::now();
    let mut spans = 0;
    let mut passes = 0;
    let secs: f64 = std::env::var("DEID_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let max_passes: u32 = std::env::var("DEID_PASSES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(u32::MAX);
    while passes == 0 || (start.elapsed().as_secs_f64() < secs && passes < max_passes) {
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
