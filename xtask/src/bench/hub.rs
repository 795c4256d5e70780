//! `cargo xtask bench hub [--seconds N] [--appliances N] [--sponsors N] [--pg URL]`
//!
//! Load on loopback: N appliances (default 200) poll the hub with signed
//! requests while sponsors post jobs, for a bounded time. Prints p50/p99
//! latency and requests/s per request kind, for SQLite and — when a URL is
//! given with `--pg` or `$INSITU_TEST_PG_URL` — for PostgreSQL, then checks
//! that the ledger still balances and holds exactly the posted fees.

use anyhow::{bail, Context};
use ed25519_dalek::SigningKey;
use insitu_agent::{AgentClient, SponsorClient};
use insitu_hub::{JobSpec, RunningHub};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Options {
    seconds: u64,
    appliances: usize,
    sponsors: usize,
    pg: Option<String>,
}

fn parse(args: &[String]) -> anyhow::Result<Options> {
    let mut o = Options {
        seconds: 10,
        appliances: 200,
        sponsors: 4,
        pg: std::env::var("INSITU_TEST_PG_URL")
            .ok()
            .filter(|s| !s.is_empty()),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .with_context(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "--seconds" => o.seconds = value()?.parse()?,
            "--appliances" => o.appliances = value()?.parse()?,
            "--sponsors" => o.sponsors = value()?.parse()?,
            "--pg" => o.pg = Some(value()?),
            "--help" | "-h" => {
                println!("cargo xtask bench hub [--seconds N] [--appliances N] [--sponsors N] [--pg postgres://…]");
                std::process::exit(0);
            }
            other => bail!("unknown option {other:?} — see --help"),
        }
    }
    Ok(o)
}

/// Runs the hub benchmark.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let o = parse(args)?;
    println!(
        "hub load: {} appliances polling + {} sponsors posting, {} s per database, loopback",
        o.appliances, o.sponsors, o.seconds
    );
    bench_one("SQLite", None, &o)?;
    match &o.pg {
        Some(url) => {
            let db = insitu_hub::scratch_postgres_database(url).context("creating a scratch PostgreSQL database")?;
            bench_one("PostgreSQL", Some(&db), &o)?;
        }
        None => println!("PostgreSQL: skipped (give --pg URL or set INSITU_TEST_PG_URL; scripts/pg-test-server.sh start prints one)"),
    }
    Ok(())
}

fn bench_one(label: &str, db_url: Option<&str>, o: &Options) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let hub = RunningHub::start(dir.path(), db_url, "127.0.0.1:0")?;
    let url = hub.url().to_string();
    let mut tokens = Vec::new();
    for s in 0..o.sponsors {
        tokens.push(hub.block_on(hub.db().add_sponsor(&format!("sponsor-{s}"), "bench"))?);
    }
    let mut agents = Vec::new();
    for a in 0..o.appliances {
        let code = hub.block_on(hub.db().add_hospital(&format!("hospital-{a}"), "bench"))?;
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&(a as u64 + 1).to_le_bytes());
        let agent = AgentClient::new(&url, SigningKey::from_bytes(&seed));
        agent.enroll(&code, &format!("appliance-{a}"))?;
        agents.push(agent);
    }
    // One small model per sponsor; jobs target a rotating handful of hospitals.
    let model_dir = dir.path().join("model");
    std::fs::create_dir_all(&model_dir)?;
    std::fs::write(model_dir.join("config.json"), b"{}")?;
    std::fs::write(model_dir.join("model.safetensors"), vec![7u8; 4096])?;
    let mut digests = Vec::new();
    for t in &tokens {
        digests.push(
            SponsorClient::new(&url, t)
                .push_model(&model_dir, "bench")?
                .digest,
        );
    }
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/job.toml"))?;
    let base_spec = JobSpec::from_toml_str(&example)
        .map_err(|e| anyhow::anyhow!("examples/job.toml: {e:?}"))?;

    let stop = Arc::new(AtomicBool::new(false));
    let polls = Arc::new(Mutex::new(Vec::<Duration>::new()));
    let posts = Arc::new(Mutex::new(Vec::<(Duration, i64)>::new()));
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let started = Instant::now();
    let mut threads = Vec::new();
    for agent in agents {
        let (stop, polls, errors) = (stop.clone(), polls.clone(), errors.clone());
        threads.push(std::thread::spawn(move || {
            let mut mine = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                match agent.jobs() {
                    Ok(_) => mine.push(t.elapsed()),
                    Err(e) => errors.lock().unwrap().push(e.to_string()),
                }
            }
            polls.lock().unwrap().extend(mine);
        }));
    }
    for (s, token) in tokens.iter().enumerate() {
        let (stop, posts, errors) = (stop.clone(), posts.clone(), errors.clone());
        let client = SponsorClient::new(&url, token);
        let mut spec = base_spec.clone();
        spec.model.base_digest = digests[s].clone();
        let hospitals = o.appliances;
        threads.push(std::thread::spawn(move || {
            let mut mine = Vec::new();
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                spec.job.target_hospitals = vec![format!("hospital-{}", (n * 7 + s) % hospitals)];
                spec.fee.amount_minor = 1000 + (n as i64 % 97);
                let t = Instant::now();
                match client.post_job(&spec, &format!("bench-{s}-{n}")) {
                    Ok(_) => mine.push((t.elapsed(), spec.fee.amount_minor)),
                    Err(e) => errors.lock().unwrap().push(e.to_string()),
                }
                n += 1;
            }
            posts.lock().unwrap().extend(mine);
        }));
    }
    std::thread::sleep(Duration::from_secs(o.seconds));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let polls = polls.lock().unwrap().clone();
    let posts = posts.lock().unwrap().clone();
    let errors = errors.lock().unwrap().clone();
    let report = hub.block_on(hub.db().ledger_report())?;
    let escrow: i64 = report
        .accounts
        .iter()
        .filter(|a| a.kind == "escrow")
        .map(|a| a.balance_minor)
        .sum();
    let posted: i64 = posts.iter().map(|p| p.1).sum();
    hub.stop();

    println!("{label}:");
    print_kind("  agent poll (signed GET /v1/agent/jobs)", &polls, elapsed);
    print_kind(
        "  sponsor post (POST /v1/sponsor/jobs)  ",
        &posts.iter().map(|p| p.0).collect::<Vec<_>>(),
        elapsed,
    );
    println!(
        "  total {:.0} req/s over {:.1} s; {} error(s){}",
        (polls.len() + posts.len()) as f64 / elapsed,
        elapsed,
        errors.len(),
        errors
            .first()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
    println!(
        "  ledger: balanced = {}, escrow {} = posted fees {} → {}",
        report.balanced,
        escrow,
        posted,
        if report.balanced && escrow == posted {
            "OK"
        } else {
            "MISMATCH"
        }
    );
    if !report.balanced || escrow != posted {
        bail!("{label}: ledger check failed: {:?}", report.problems);
    }
    Ok(())
}

fn print_kind(name: &str, samples: &[Duration], elapsed: f64) {
    if samples.is_empty() {
        println!("{name}: no completed requests");
        return;
    }
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{name}: {:>7} requests, {:>7.0} req/s, p50 {:>7.2} ms, p99 {:>7.2} ms",
        ms.len(),
        ms.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99)
    );
}
