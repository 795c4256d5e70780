//! `insitu audit log` and `insitu audit verify`: read and check the
//! hash-chained audit log.

use crate::cmd::init::open_store;
use crate::Global;
use insitu_store::{AuditEvent, AuditFilter};

/// Subcommands of `insitu audit`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// List audit events, oldest first.
    #[command(
        after_help = "Examples:\n  insitu audit log --action ingest --limit 20\n  \
                            insitu audit log --json --since 100 | jq .details"
    )]
    Log(LogArgs),
    /// Recompute every hash; exit 0 and print the head hash when intact,
    /// exit 1 naming the first bad sequence number otherwise.
    #[command(
        long_about = "Recompute every event's hash and check each links to the one before.\n\n\
Exit 0 when the chain is intact; prints the head hash so it can be written down or sent \
somewhere outside the appliance (a witness). Exit 1 when any row was edited, deleted, \
inserted or reordered, naming the first bad sequence number.\n\n\
Deleting the newest events leaves a shorter chain that is still consistent; pass a head \
hash witnessed earlier with --expect to catch that."
    )]
    Verify(VerifyArgs),
}

/// Arguments of `insitu audit log`. `--actor U` (only events by actor U) is
/// the global `--actor` option; see [`actor_filter`].
#[derive(clap::Args, Debug)]
pub struct LogArgs {
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Only this action, or actions under it (`ingest` matches `ingest.file`).
    #[arg(long, value_name = "A")]
    pub action: Option<String>,
    /// Only events with sequence number >= SEQ.
    #[arg(long, value_name = "SEQ")]
    pub since: Option<i64>,
    /// Only the latest N matching events.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// Arguments of `insitu audit verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// A head hash witnessed earlier; verification fails unless the chain
    /// still contains it.
    #[arg(long, value_name = "HASH")]
    pub expect: Option<String>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs `insitu audit …`.
pub fn run(command: Command, g: &Global) -> anyhow::Result<()> {
    match command {
        Command::Log(args) => log(args, g),
        Command::Verify(args) => verify(args, g),
    }
}

fn log(args: LogArgs, g: &Global) -> anyhow::Result<()> {
    let store = open_store(g)?;
    let events = store.audit_events(&AuditFilter {
        action: args.action,
        actor: actor_filter(g),
        since_seq: args.since,
        limit: args.limit,
    })?;
    let mut out = String::new();
    if args.json {
        for e in &events {
            out.push_str(&serde_json::to_string(e)?);
            out.push('\n');
        }
    } else {
        for e in &events {
            out.push_str(&table_row(e));
            out.push('\n');
        }
        if events.is_empty() && !g.quiet {
            eprintln!("no matching audit events");
        }
    }
    print!("{out}");
    Ok(())
}

/// The actor to filter on: the global `--actor` when it was given on this
/// command line. `--actor` is global (it names who acts in state-changing
/// commands) and also reads $INSITU_ACTOR, so a value from the environment
/// must not silently narrow the listing.
fn actor_filter(g: &Global) -> Option<String> {
    let given = std::env::args_os().any(|a| {
        let a = a.to_string_lossy();
        a == "--actor" || a.starts_with("--actor=")
    });
    if given {
        g.actor.clone()
    } else {
        None
    }
}

fn table_row(e: &AuditEvent) -> String {
    // The timestamp to the second is enough on screen; --json keeps it all.
    let at = e.at.get(..19).unwrap_or(&e.at);
    format!(
        "{:>6}  {}Z  {:<12}  {:<18}  {}  {}",
        e.seq, at, e.actor, e.action, e.subject, e.details
    )
}

fn verify(args: VerifyArgs, g: &Global) -> anyhow::Result<()> {
    let store = open_store(g)?;
    let check = store.verify_chain()?;
    let witnessed = args.expect.as_deref().map(|h| (h, check.contains(h)));
    let witness_missing = matches!(witnessed, Some((_, None)));
    if args.json {
        let mut value = serde_json::to_value(&check)?;
        value["intact"] = (check.is_intact() && !witness_missing).into();
        if let Some((hash, seq)) = witnessed {
            value["expected_hash"] = hash.into();
            value["expected_found_at_seq"] = seq.into();
        }
        println!("{value}");
    } else if let (Some(seq), Some(problem)) = (check.first_bad_seq, &check.problem) {
        println!("audit chain BROKEN at seq {seq}: {problem}");
        if seq > 1 {
            println!(
                "  events 1..{} are intact; last good hash {}",
                seq - 1,
                check.head_hash
            );
        }
        println!("  keep this database for investigation and report it to your IG officer");
    } else {
        println!(
            "audit chain intact: {} events, head seq {} hash {}",
            check.events, check.events, check.head_hash
        );
        match witnessed {
            Some((hash, Some(seq))) => println!("  witnessed hash {hash} found at seq {seq}"),
            Some((hash, None)) => println!(
                "audit chain BROKEN: witnessed hash {hash} is not in the chain — events up to it \
                 were deleted or rewritten"
            ),
            None => {}
        }
    }
    if check.is_intact() && !witness_missing {
        Ok(())
    } else {
        Err(crate::exit::Silent(1).into())
    }
}
