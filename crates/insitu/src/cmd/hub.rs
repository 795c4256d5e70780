//! `insitu hub …`: run the sponsor-facing hub and administer it. `--home` is
//! the hub's own home (its database and blobs), not an appliance home.

use crate::Global;
use anyhow::Context;
use insitu_hub::HubDb;

/// Subcommands of `insitu hub`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Serve the hub API (sponsors and appliances connect to it).
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8700 or 0.0.0.0:8700.
        #[arg(long, default_value = "127.0.0.1:8700")]
        listen: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Register sponsors and hospitals.
    #[command(subcommand)]
    Admin(Admin),
    /// Print ledger balances and the reconciliation check.
    Ledger {
        /// Print `{"balanced", "accounts": [{name, kind, currency, balance_minor}], "problems"}`.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
}

/// `insitu hub admin …`.
#[derive(clap::Subcommand, Debug)]
pub enum Admin {
    /// Register a sponsor; prints its API token alone on the last line (shown once, stored hashed).
    AddSponsor {
        /// Sponsor name (a-z, 0-9, '-', '_').
        name: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Register a hospital; prints a one-time enrollment code alone on the last line.
    AddHospital {
        /// Hospital name (a-z, 0-9, '-', '_'), as sponsors target it.
        name: String,
        #[command(flatten)]
        db: DbArg,
    },
}

/// Where the hub's database lives.
#[derive(clap::Args, Debug)]
pub struct DbArg {
    /// Database URL: postgres://USER@HOST:PORT/DB for production; default is
    /// SQLite at <home>/hub.db.
    #[arg(long, env = "INSITU_HUB_DB", value_name = "URL")]
    db: Option<String>,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

async fn open(g: &Global, db: &DbArg) -> anyhow::Result<HubDb> {
    let home = g.home_dir();
    HubDb::open(&home, db.db.as_deref())
        .await
        .map_err(hub_error)
        .with_context(|| format!("opening the hub in {}", home.display()))
}

/// Maps hub errors: invalid input and conflicts are the user's to fix (exit 2).
pub(crate) fn hub_error(e: insitu_hub::HubError) -> anyhow::Error {
    match e {
        insitu_hub::HubError::Invalid(m) | insitu_hub::HubError::Conflict(m) => {
            crate::exit::input(m)
        }
        other => anyhow::Error::new(other),
    }
}

/// Runs `insitu hub …`.
pub fn run(command: Command, g: &Global) -> anyhow::Result<()> {
    let rt = runtime()?;
    rt.block_on(async {
        match command {
            Command::Serve { listen, db } => {
                let hub = open(g, &db).await?;
                let listener = tokio::net::TcpListener::bind(&listen)
                    .await
                    .map_err(|e| crate::exit::input(format!("--listen {listen}: {e} — pick a free address:port")))?;
                let addr = listener.local_addr()?;
                let backend = match hub.backend() {
                    insitu_hub::Backend::Sqlite => "SQLite".to_string(),
                    insitu_hub::Backend::Postgres => "PostgreSQL".to_string(),
                };
                println!(
                    "insitu hub listening on http://{addr} (database: {backend}, home: {}) — stop with Ctrl-C",
                    g.home_dir().display()
                );
                insitu_hub::serve(hub.clone(), listener, async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await
                .context("serving the hub")?;
                hub.close().await;
                Ok(())
            }
            Command::Admin(Admin::AddSponsor { name, db }) => {
                let hub = open(g, &db).await?;
                let token = hub.add_sponsor(&name, &g.actor()).await.map_err(hub_error)?;
                if !g.quiet {
                    println!("sponsor {name} registered; its API token (shown once, stored only as a hash):");
                }
                println!("{token}");
                Ok(())
            }
            Command::Admin(Admin::AddHospital { name, db }) => {
                let hub = open(g, &db).await?;
                let code = hub.add_hospital(&name, &g.actor()).await.map_err(hub_error)?;
                if !g.quiet {
                    println!("hospital {name} registered; one-time enrollment code for `insitu agent enroll --code`:");
                }
                println!("{code}");
                Ok(())
            }
            Command::Ledger { json, db } => {
                let hub = open(g, &db).await?;
                let report = hub.ledger_report().await.map_err(hub_error)?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                } else {
                    println!("{:<40} {:<9} {:<4} {:>16}", "account", "kind", "cur", "balance");
                    for a in &report.accounts {
                        println!("{:<40} {:<9} {:<4} {:>16}", a.name, a.kind, a.currency, crate::cmd::jobs::money(a.balance_minor, ""));
                    }
                    if report.balanced {
                        println!("balanced: every transaction sums to zero; escrow equals open jobs' fees; shares match deliveries");
                    } else {
                        println!("NOT BALANCED:");
                        for p in &report.problems {
                            println!("  {p}");
                        }
                    }
                }
                if report.balanced {
                    Ok(())
                } else {
                    Err(crate::exit::Silent(1).into())
                }
            }
        }
    })
}
