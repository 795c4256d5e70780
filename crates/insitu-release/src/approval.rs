//! Two-person approval. An approval names a user, their role and the release
//! digest it covers; it counts only while that digest is still what would be
//! released. Rules: the user's passphrase must verify; approvers hold a
//! required role; the operator who started the run never approves it; one
//! person approves once; the required roles are covered by different people;
//! any rejection at the current digest blocks export.

use crate::Error;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use insitu_store::release::ApprovalRecord;

/// Argon2id hash (PHC string) of a passphrase, with a random salt.
pub fn hash_passphrase(passphrase: &str) -> Result<String, Error> {
    if passphrase.chars().count() < 8 {
        return Err(Error::Refused(
            "the passphrase is shorter than 8 characters — choose a longer one".into(),
        ));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(passphrase.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Refused(format!("could not hash the passphrase: {e}")))
}

/// True when `passphrase` matches the stored PHC `hash`.
pub fn verify_passphrase(passphrase: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(passphrase.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Who wants to approve.
#[derive(Debug, Clone, PartialEq)]
pub struct Approver<'a> {
    /// User name.
    pub name: &'a str,
    /// Their role.
    pub role: &'a str,
}

/// Checks that `who` may approve a run started by `started_by`, given the
/// approvals already recorded and the current digest. Returns a refusal
/// explaining the rule otherwise.
pub fn check_may_approve(
    who: &Approver<'_>,
    started_by: &str,
    required_roles: &[String],
    recorded: &[ApprovalRecord],
    current_digest: &str,
) -> Result<(), Error> {
    if who.name == started_by {
        return Err(Error::Refused(format!(
            "{} started this run and cannot approve it — approvals must come from people independent of the run",
            who.name
        )));
    }
    if !required_roles.iter().any(|r| r == who.role) {
        return Err(Error::Refused(format!(
            "{} has role {} — only {} may approve",
            who.name,
            who.role,
            required_roles.join(" or ")
        )));
    }
    let current = || {
        recorded
            .iter()
            .filter(|a| a.release_digest == current_digest)
    };
    if current().any(|a| a.user_name == who.name && a.decision == "approve") {
        return Err(Error::Refused(format!(
            "{} has already approved this exact release — the second approval must come from a different person",
            who.name
        )));
    }
    if let Some(other) = current().find(|a| a.decision == "approve" && a.role == who.role) {
        return Err(Error::Refused(format!(
            "role {} has already approved (by {}) — the remaining approval must come from another role",
            who.role, other.user_name
        )));
    }
    Ok(())
}

/// The approvals that make the current digest releasable, one per required
/// role; or a refusal naming what is missing, voided or rejected.
pub fn approvals_for_export(
    required_roles: &[String],
    recorded: &[ApprovalRecord],
    current_digest: &str,
    started_by: &str,
) -> Result<Vec<ApprovalRecord>, Error> {
    if let Some(r) = recorded
        .iter()
        .find(|a| a.release_digest == current_digest && a.decision == "reject")
    {
        return Err(Error::Refused(format!(
            "{} ({}) rejected this release: {}",
            r.user_name,
            r.role,
            r.reason.as_deref().unwrap_or("no reason given")
        )));
    }
    let valid: Vec<&ApprovalRecord> = recorded
        .iter()
        .filter(|a| {
            a.release_digest == current_digest
                && a.decision == "approve"
                && a.user_name != started_by
        })
        .collect();
    let mut chosen: Vec<ApprovalRecord> = Vec::new();
    let mut missing = Vec::new();
    for role in required_roles {
        match valid
            .iter()
            .find(|a| &a.role == role && !chosen.iter().any(|c| c.user_name == a.user_name))
        {
            Some(a) => chosen.push((*a).clone()),
            None => missing.push(role.as_str()),
        }
    }
    if missing.is_empty() {
        return Ok(chosen);
    }
    let voided = recorded
        .iter()
        .filter(|a| a.decision == "approve" && a.release_digest != current_digest)
        .count();
    let hint = if voided > 0 {
        format!(" ({voided} earlier approval(s) are void because the release changed since — approve again)")
    } else {
        String::new()
    };
    Err(Error::Refused(format!(
        "missing approval from {}{hint}",
        missing.join(" and ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(user: &str, role: &str, decision: &str, digest: &str) -> ApprovalRecord {
        ApprovalRecord {
            id: 0,
            run_id: "r".into(),
            user_name: user.into(),
            role: role.into(),
            decision: decision.into(),
            reason: (decision == "reject").then(|| "too risky".into()),
            release_digest: digest.into(),
            decided_at: "t".into(),
        }
    }

    fn roles() -> Vec<String> {
        vec!["ig_officer".into(), "clinical_safety_officer".into()]
    }

    #[test]
    fn passphrases_hash_and_verify() {
        let h = hash_passphrase("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_passphrase("correct horse battery", &h));
        assert!(!verify_passphrase("correct horse battery!", &h));
        assert!(!verify_passphrase("x", "not a hash"));
        assert!(hash_passphrase("short").is_err());
    }

    #[test]
    fn approval_rules() {
        let ig = Approver {
            name: "ana",
            role: "ig_officer",
        };
        assert!(check_may_approve(&ig, "op", &roles(), &[], "d").is_ok());
        let op = Approver {
            name: "olly",
            role: "operator",
        };
        assert!(check_may_approve(&op, "someone", &roles(), &[], "d")
            .unwrap_err()
            .to_string()
            .contains("only"));
        let e = check_may_approve(&ig, "ana", &roles(), &[], "d").unwrap_err();
        assert!(e.to_string().contains("started this run"), "{e}");
        let done = [rec("ana", "ig_officer", "approve", "d")];
        assert!(check_may_approve(&ig, "op", &roles(), &done, "d")
            .unwrap_err()
            .to_string()
            .contains("already approved"));
        let ig2 = Approver {
            name: "ian",
            role: "ig_officer",
        };
        assert!(check_may_approve(&ig2, "op", &roles(), &done, "d")
            .unwrap_err()
            .to_string()
            .contains("another role"));
        // After a change, the old approval no longer blocks a fresh one.
        assert!(check_may_approve(&ig, "op", &roles(), &done, "d2").is_ok());
    }

    #[test]
    fn export_needs_both_roles_at_the_current_digest() {
        let both = [
            rec("ana", "ig_officer", "approve", "d"),
            rec("cs", "clinical_safety_officer", "approve", "d"),
        ];
        assert_eq!(
            approvals_for_export(&roles(), &both, "d", "op")
                .unwrap()
                .len(),
            2
        );
        let e = approvals_for_export(&roles(), &both, "d2", "op")
            .unwrap_err()
            .to_string();
        assert!(e.contains("void"), "{e}");
        let one = [rec("ana", "ig_officer", "approve", "d")];
        assert!(approvals_for_export(&roles(), &one, "d", "op")
            .unwrap_err()
            .to_string()
            .contains("clinical_safety_officer"));
        let mut rejected = both.to_vec();
        rejected.push(rec("cs2", "clinical_safety_officer", "reject", "d"));
        assert!(approvals_for_export(&roles(), &rejected, "d", "op")
            .unwrap_err()
            .to_string()
            .contains("too risky"));
        // An approval by the run's operator never counts, even if recorded.
        assert!(approvals_for_export(&roles(), &both, "d", "ana").is_err());
    }
}
