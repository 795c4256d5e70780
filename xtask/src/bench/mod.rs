//! Benchmarks, one module each.

mod dedup;
mod deid;
mod hub;
mod ingest;
mod qlora;
mod train;

/// Dispatches `cargo xtask bench NAME ARGS…`.
pub fn run(name: &str, args: &[String]) -> anyhow::Result<()> {
    match name {
        "ingest" => ingest::run(args),
        "deid" => deid::run(args),
        "dedup" => dedup::run(args),
        "train" => train::run(args),
        "hub" => hub::run(args),
        "qlora" => qlora::run(args),
        other => anyhow::bail!(
            "unknown benchmark {other:?} — choose one of: ingest, deid, dedup, train, hub, qlora"
        ),
    }
}
