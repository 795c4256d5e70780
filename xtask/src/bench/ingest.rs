//! `cargo xtask bench ingest [--patients N] [--seed S] [--file PATH]`: JSONL
//! ingest throughput into a fresh temporary home.
//!
//! The input is a synthetic corpus from insitu-synth (generation is timed
//! separately and not counted), or an existing JSONL with `--file`. The bench
//! times three things on the same file so the figure can be explained:
//! parsing alone (NoteReader), a first ingest (parsing, pseudonymising,
//! hashing and SQLite inserts in one transaction), and a second ingest of
//! the same file (every record a duplicate). Target: first ingest >= 50 MB/s.

use insitu_ingest::{ingest_path, CsvColumns, Format, IngestOptions, NoteReader};
use insitu_store::Store;
use std::path::PathBuf;
use std::time::Instant;

const TARGET_MB_S: f64 = 50.0;

/// Runs the ingest benchmark.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let mut patients: usize = 3000;
    let mut seed: u64 = 7;
    let mut file: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> anyhow::Result<String> {
            it.next()
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("{name} needs a value"))
        };
        let number = |name: &str, v: String| -> anyhow::Result<u64> {
            v.parse()
                .map_err(|_| anyhow::anyhow!("{name} {v:?}: expected a whole number"))
        };
        match a.as_str() {
            "--patients" => patients = number("--patients", value("--patients")?)? as usize,
            "--seed" => seed = number("--seed", value("--seed")?)?,
            "--file" => file = Some(PathBuf::from(value("--file")?)),
            "--help" | "-h" => {
                println!(
                    "cargo xtask bench ingest [--patients N (3000)] [--seed S (7)] [--file notes.jsonl]"
                );
                return Ok(());
            }
            other => {
                anyhow::bail!("unknown argument {other:?} — see `cargo xtask bench ingest --help`")
            }
        }
    }

    let work = tempfile::tempdir()?;
    let notes = match file {
        Some(f) => f,
        None => {
            let started = Instant::now();
            let summary = insitu_synth::write_corpus(
                &insitu_synth::SynthConfig {
                    patients,
                    seed,
                    ..Default::default()
                },
                work.path(),
            )?;
            println!(
                "generated {} notes for {} patients in {:.1}s (not timed below)",
                summary.notes,
                summary.patients,
                started.elapsed().as_secs_f64()
            );
            work.path().join("notes.jsonl")
        }
    };
    let bytes = std::fs::metadata(&notes)?.len();
    let mb = bytes as f64 / 1e6;
    println!("input {} ({mb:.1} MB)", notes.display());

    let started = Instant::now();
    let mut records = 0u64;
    for note in NoteReader::open(&notes, Format::Jsonl, &CsvColumns::default())? {
        note?;
        records += 1;
    }
    let parse_s = started.elapsed().as_secs_f64();

    let (mut store, _) = Store::init(&work.path().join("home"))?;
    let options = IngestOptions {
        source: Some("bench".into()),
        format: Some(Format::Jsonl),
        actor: "bench".into(),
        ..Default::default()
    };
    let started = Instant::now();
    let first = ingest_path(&mut store, &notes, &options, &mut |_, _| {})?;
    let first_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let second = ingest_path(&mut store, &notes, &options, &mut |_, _| {})?;
    let second_s = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        first.inserted == records && second.inserted == 0,
        "ingest stored {} of {records} records, then {} more on the second run",
        first.inserted,
        second.inserted
    );

    let row = |what: &str, secs: f64| {
        println!(
            "{what:<34} {secs:>7.2}s {:>8.1} MB/s {:>9.0} notes/s",
            mb / secs,
            records as f64 / secs
        )
    };
    row("parse only (NoteReader)", parse_s);
    row("ingest, new documents", first_s);
    row("ingest again, all duplicates", second_s);
    let verdict = if mb / first_s >= TARGET_MB_S {
        "meets"
    } else {
        "MISSES"
    };
    println!(
        "first ingest {:.1} MB/s {verdict} the {TARGET_MB_S} MB/s target ({records} notes)",
        mb / first_s
    );
    Ok(())
}
