//! Quick single-core scan throughput on a synthetic corpus, for profiling
//! without building xtask: `cargo run --release -p insitu-deid --example throughput`.
//! `cargo xtask bench deid` is the reported benchmark.

use insitu_synth::{Corpus, SynthConfig};
use std::time::Instant;

fn main() {
    let corpus = Corpus::generate(&SynthConfig {
        patients: 100,
        seed: 11,
        us_share: 0.4,
    });
    let bytes: usize = corpus.notes.iter().map(|n| n.text.len()).sum();
    let _ = insitu_deid::scan("warm up");
    let start = Instant::now();
    let mut spans = 0;
    let mut passes = 0;
    while passes == 0 || start.elapsed().as_secs_f64() < 2.0 {
        for n in &corpus.notes {
            spans += insitu_deid::scan(&n.text).len();
        }
        passes += 1;
    }
    let mb_s = bytes as f64 * passes as f64 / start.elapsed().as_secs_f64() / 1e6;
    println!("{mb_s:.2} MB/s per core ({spans} spans, {passes} passes over {bytes} bytes)");
}
