//! Writes a corpus and prints the time it took, without building the whole
//! `insitu` binary: `cargo run --release -p insitu-synth --example write -- 10000 1 /tmp/synth`

fn main() {
    let mut args = std::env::args().skip(1);
    let patients = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let seed = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let out = std::path::PathBuf::from(args.next().unwrap_or_else(|| "synth-out".into()));
    let cfg = insitu_synth::SynthConfig {
        patients,
        seed,
        ..Default::default()
    };
    let t = std::time::Instant::now();
    let s = insitu_synth::write_corpus(&cfg, &out).unwrap_or_else(|e| panic!("{e}"));
    println!("{s:?} in {:.2}s", t.elapsed().as_secs_f64());
}
