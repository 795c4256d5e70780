//! `insitu users …`: local users with roles (`ig_officer`,
//! `clinical_safety_officer`, `operator`) and argon2-hashed passphrases.
//! Also the passphrase reader `approve` uses.

use crate::Global;
use anyhow::Context;
use insitu_release::{hash_passphrase, ROLES};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Subcommands of `insitu users`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Add a user with a role. The passphrase comes from --passphrase-file,
    /// else $INSITU_PASSPHRASE, else a prompt on the terminal.
    Add {
        /// Login name (letters, digits, `.`, `_`, `-`).
        name: String,
        /// ig_officer, clinical_safety_officer or operator.
        #[arg(long)]
        role: String,
        /// File whose first line is the passphrase.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// List users and roles.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Reads a passphrase: `--passphrase-file` (first line), else
/// `$INSITU_PASSPHRASE`, else a no-echo prompt when stdin is a terminal.
pub(crate) fn read_passphrase(
    file: Option<&Path>,
    prompt: &str,
    confirm: bool,
) -> anyhow::Result<String> {
    if let Some(f) = file {
        let text = std::fs::read_to_string(f).map_err(|e| {
            crate::exit::input(format!(
                "{}: cannot read the passphrase file: {e}",
                f.display()
            ))
        })?;
        return Ok(text.lines().next().unwrap_or("").to_string());
    }
    if let Ok(p) = std::env::var("INSITU_PASSPHRASE") {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        return Err(crate::exit::input(
            "no passphrase: give --passphrase-file FILE or set INSITU_PASSPHRASE (no terminal to prompt on)",
        ));
    }
    let p =
        rpassword::prompt_password(prompt).context("reading the passphrase from the terminal")?;
    if confirm && rpassword::prompt_password("again: ").context("reading the passphrase")? != p {
        return Err(crate::exit::input(
            "the two passphrases differ — nothing was changed",
        ));
    }
    Ok(p)
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Runs `insitu users …`.
pub fn run(command: Command, g: &Global) -> anyhow::Result<()> {
    match command {
        Command::Add {
            name,
            role,
            passphrase_file,
        } => {
            if !valid_name(&name) {
                return Err(crate::exit::input(format!(
                    "user name {name:?} is not allowed — use 1-64 letters, digits, '.', '_' or '-'"
                )));
            }
            if !ROLES.contains(&role.as_str()) {
                return Err(crate::exit::input(format!(
                    "role {role:?} is unknown — use one of {}",
                    ROLES.join(", ")
                )));
            }
            let mut store = crate::cmd::init::open_store(g)?;
            let pass = read_passphrase(
                passphrase_file.as_deref(),
                &format!("passphrase for {name}: "),
                true,
            )?;
            let hash = hash_passphrase(&pass).map_err(|e| crate::exit::input(e.to_string()))?;
            store
                .tx(|tx| {
                    tx.add_release_user(&name, &role, &hash, &g.actor())?;
                    tx.audit(
                        &g.actor(),
                        "release.user_add",
                        &name,
                        serde_json::json!({"role": role}),
                    )?;
                    Ok::<_, insitu_store::StoreError>(())
                })
                .map_err(|e| match e {
                    insitu_store::StoreError::Invalid(m) => crate::exit::input(m),
                    e => e.into(),
                })?;
            println!("added user {name} with role {role}");
            Ok(())
        }
        Command::List { json } => {
            let store = crate::cmd::init::open_store(g)?;
            let users = store.release_users()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else if users.is_empty() {
                println!("no users — add one with `insitu users add NAME --role ROLE`");
            } else {
                for u in users {
                    println!("{:24} {:24} added {}", u.name, u.role, u.created_at);
                }
            }
            Ok(())
        }
    }
}
