//! `insitu approve`: one person's approval (or rejection) of a run for
//! release, bound to the digest of exactly what would leave.

use crate::Global;
use insitu_release::{
    approvals_for_export, check_may_approve, release_digest, verify_passphrase, Approver,
};
use std::path::PathBuf;

/// Arguments of `insitu approve`.
#[derive(clap::Args, Debug)]
#[command(
    long_about = "Approve (or reject) a run for release as a named user. The user authenticates \
with their passphrase (--passphrase-file, $INSITU_PASSPHRASE or a prompt). The approval is bound \
to the release digest: the sha256 over the digests of every file that would be exported plus the \
recorded facts the model card is written from; any later change voids it.\n\n\
Rules: the gate must have passed at the current digest (for approvals); the approver must hold a \
role the policy requires; the operator who started the run cannot approve it; one person approves \
once; each required role by a different person. Rejections need --reason and block export.",
    after_help = "Example:\n  insitu approve run-1 --as ana --passphrase-file ana.pass\n  insitu approve run-1 --as cai --reject --reason \"canary exposure too close to limit\""
)]
pub struct Args {
    /// Run id.
    pub run: String,
    /// The approving user (see `insitu users list`).
    #[arg(long = "as", value_name = "USER")]
    pub user: String,
    /// Reject instead of approve (needs --reason).
    #[arg(long)]
    pub reject: bool,
    /// Why (required with --reject; recorded and shown to the operator).
    #[arg(long)]
    pub reason: Option<String>,
    /// File whose first line is the user's passphrase.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

/// Runs `insitu approve`.
pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    let mut store = crate::cmd::init::open_store(g)?;
    let policy = super::gate::load_policy(&store)?;
    let facts = super::gate::load_run(&store, &args.run)?;
    if args.reject && args.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        return Err(crate::exit::input(
            "--reject needs --reason TEXT: rejections are recorded with their reasons",
        ));
    }
    let pass = super::users::read_passphrase(
        args.passphrase_file.as_deref(),
        &format!("passphrase for {}: ", args.user),
        false,
    )?;
    let user = store.release_user(&args.user)?;
    let Some(user) = user.filter(|u| verify_passphrase(&pass, &u.passphrase_hash)) else {
        deny(&mut store, g, &args, "authentication failed")?;
        eprintln!("error: unknown user or wrong passphrase for {:?} — nothing was recorded except this attempt", args.user);
        return Err(crate::exit::Silent(1).into());
    };
    let digest = release_digest(&facts).map_err(|e| anyhow::anyhow!("{e}"))?;
    let run_id = facts.run.run_id.clone();

    if args.reject {
        let reason = args.reason.clone().unwrap_or_default();
        store.tx(|tx| {
            tx.record_approval(
                &run_id,
                &user.name,
                &user.role,
                "reject",
                Some(&reason),
                &digest,
            )?;
            tx.audit(
                &user.name,
                "release.reject",
                &run_id,
                serde_json::json!({"role": user.role, "release_digest": digest, "reason": reason}),
            )?;
            Ok::<_, insitu_store::StoreError>(())
        })?;
        println!(
            "rejected {run_id} as {} ({}): {reason}",
            user.name, user.role
        );
        return Ok(());
    }

    if let Err(why) = super::gate::gate_passed_at(&store, &run_id, &digest)? {
        deny(&mut store, g, &args, &why)?;
        eprintln!("error: {why}");
        return Err(crate::exit::Silent(1).into());
    }
    let recorded = store.approvals(&run_id)?;
    let who = Approver {
        name: &user.name,
        role: &user.role,
    };
    if let Err(e) = check_may_approve(
        &who,
        &facts.run.started_by,
        &policy.required_approver_roles,
        &recorded,
        &digest,
    ) {
        deny(&mut store, g, &args, &e.to_string())?;
        eprintln!("error: {e}");
        return Err(crate::exit::Silent(1).into());
    }
    store.tx(|tx| {
        tx.record_approval(&run_id, &user.name, &user.role, "approve", None, &digest)?;
        tx.audit(
            &user.name,
            "release.approve",
            &run_id,
            serde_json::json!({"role": user.role, "release_digest": digest}),
        )?;
        Ok::<_, insitu_store::StoreError>(())
    })?;
    println!(
        "approved {run_id} as {} ({}), release digest {digest}",
        user.name, user.role
    );
    let now = store.approvals(&run_id)?;
    match approvals_for_export(
        &policy.required_approver_roles,
        &now,
        &digest,
        &facts.run.started_by,
    ) {
        Ok(_) => println!("all required approvals hold — next: insitu export {run_id} --out DIR"),
        Err(e) => println!("still needed: {e}"),
    }
    Ok(())
}

/// Records a refused or failed approval attempt in the audit log.
fn deny(store: &mut insitu_store::Store, g: &Global, args: &Args, why: &str) -> anyhow::Result<()> {
    store.tx(|tx| {
        tx.audit(
            &g.actor(),
            "release.approve_denied",
            &args.run,
            serde_json::json!({"as": args.user, "reason": why}),
        )?;
        Ok::<_, insitu_store::StoreError>(())
    })?;
    Ok(())
}
