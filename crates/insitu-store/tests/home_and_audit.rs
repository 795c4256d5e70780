//! Home creation, key files and the audit chain, including tampering done
//! by editing the SQLite file directly as an insider with file access would.

use insitu_store::{AuditFilter, Store, StoreError};
use rusqlite::Connection;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn home_with_events(n: usize) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, created) = Store::init(dir.path()).unwrap();
    assert!(created);
    for i in 0..n {
        store
            .tx(|tx| {
                tx.audit(
                    "alice",
                    "test.step",
                    &format!("thing-{i}"),
                    json!({"i": i, "z": [1, 2], "a": {"y": 1, "b": 2}}),
                )?;
                Ok::<(), StoreError>(())
            })
            .unwrap();
    }
    (dir, store)
}

fn raw(dir: &Path) -> Connection {
    Connection::open(dir.join("insitu.db")).unwrap()
}

#[test]
fn init_creates_keys_with_owner_only_permissions_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let (store, created) = Store::init(dir.path()).unwrap();
    assert!(created);
    let home = store.home();
    for key in [home.signing_key_path(), home.hmac_key_path()] {
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", key.display());
    }
    assert_eq!(std::fs::read(home.hmac_key_path()).unwrap().len(), 32);
    let db_mode = std::fs::metadata(home.db_path())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(db_mode, 0o600, "the database holds raw notes");
    let signing = home.signing_key().unwrap();
    assert_eq!(home.verifying_key().unwrap(), signing.verifying_key());
    assert!(std::fs::read_to_string(home.config_path())
        .unwrap()
        .contains("# "));
    assert_eq!(home.config().unwrap().appliance_name, "insitu-appliance");
    let journal: String = raw(dir.path())
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    let secret = home.hmac_secret().unwrap();
    drop(store);

    let (again, created) = Store::init(dir.path()).unwrap();
    assert!(!created, "a second init must change nothing");
    assert_eq!(again.home().hmac_secret().unwrap(), secret);
    assert_eq!(
        again.home().signing_key().unwrap().to_bytes(),
        signing.to_bytes()
    );
    // Only the first init is audited.
    assert_eq!(
        again.audit_events(&AuditFilter::default()).unwrap().len(),
        1
    );
}

#[test]
fn keys_readable_by_others_are_refused() {
    let (dir, store) = home_with_events(0);
    let hmac = store.home().hmac_key_path();
    std::fs::set_permissions(&hmac, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = store.home().hmac_secret().unwrap_err().to_string();
    assert!(err.contains("644") && err.contains("chmod 600"), "{err}");
    let signing = store.home().signing_key_path();
    std::fs::set_permissions(&signing, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = store.home().signing_key().unwrap_err().to_string();
    assert!(err.contains("640"), "{err}");
    drop(dir);
}

#[test]
fn malformed_keys_are_refused_with_a_clear_message() {
    let (_dir, store) = home_with_events(0);
    let home = store.home();
    std::fs::write(home.hmac_key_path(), b"short").unwrap();
    let err = home.hmac_secret().unwrap_err().to_string();
    assert!(err.contains("5 bytes, expected exactly 32"), "{err}");
    std::fs::write(
        home.signing_key_path(),
        b"-----BEGIN PRIVATE KEY-----\nnope\n",
    )
    .unwrap();
    let err = home.signing_key().unwrap_err().to_string();
    assert!(err.contains("not a PKCS#8 ed25519 private key"), "{err}");
}

#[test]
fn missing_keys_beside_an_existing_database_are_not_regenerated() {
    let (dir, store) = home_with_events(0);
    let hmac = store.home().hmac_key_path();
    drop(store);
    std::fs::remove_file(&hmac).unwrap();
    let err = Store::init(dir.path()).err().unwrap().to_string();
    assert!(err.contains("restore it from backup"), "{err}");
    assert!(!hmac.exists());
}

#[test]
fn newer_schema_is_refused_by_open_and_init() {
    let (dir, store) = home_with_events(0);
    drop(store);
    raw(dir.path())
        .execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 'x')",
            [],
        )
        .unwrap();
    for result in [Store::open(dir.path()).err(), Store::init(dir.path()).err()] {
        match result {
            Some(StoreError::NewerSchema { unknown, .. }) => assert_eq!(unknown, vec![9999]),
            other => panic!("expected NewerSchema, got {other:?}"),
        }
    }
}

#[test]
fn open_refuses_a_directory_that_is_not_a_home() {
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open(dir.path()).err().unwrap().to_string();
    assert!(err.contains("insitu init"), "{err}");
}

#[test]
fn intact_chain_verifies_and_filters_work() {
    let (_dir, store) = home_with_events(5);
    let check = store.verify_chain().unwrap();
    assert!(check.is_intact(), "{check:?}");
    assert_eq!(check.events, 6);
    assert_eq!(store.audit_head().unwrap(), (6, check.head_hash.clone()));
    assert_eq!(check.contains(&check.head_hash), Some(6));

    let steps = store
        .audit_events(&AuditFilter {
            action: Some("test".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(steps.len(), 5);
    let none = store
        .audit_events(&AuditFilter {
            action: Some("tes".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(
        none.is_empty(),
        "action filter matches whole dotted segments only"
    );
    let latest = store
        .audit_events(&AuditFilter {
            limit: Some(2),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(latest.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![5, 6]);
    let since = store
        .audit_events(&AuditFilter {
            since_seq: Some(4),
            actor: Some("alice".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        since.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![4, 5, 6]
    );
    assert_eq!(since[0].details["a"]["b"], 2);
}

fn bad_seq_after(dir: &Path, tamper: &str) -> (Option<i64>, String) {
    raw(dir).execute_batch(tamper).unwrap();
    let check = Store::open(dir).unwrap().verify_chain().unwrap();
    (check.first_bad_seq, check.problem.unwrap_or_default())
}

#[test]
fn edited_row_is_detected() {
    let (dir, _store) = home_with_events(5);
    let (seq, problem) = bad_seq_after(
        dir.path(),
        "UPDATE audit_events SET actor = 'mallory' WHERE seq = 3",
    );
    assert_eq!(seq, Some(3), "{problem}");
    assert!(problem.contains("edited"), "{problem}");
}

#[test]
fn edited_details_are_detected() {
    let (dir, _store) = home_with_events(5);
    let (seq, _) = bad_seq_after(
        dir.path(),
        r#"UPDATE audit_events SET details = '{"i": 99}' WHERE seq = 4"#,
    );
    assert_eq!(seq, Some(4));
}

#[test]
fn deleted_row_is_detected() {
    let (dir, _store) = home_with_events(5);
    let (seq, problem) = bad_seq_after(dir.path(), "DELETE FROM audit_events WHERE seq = 3");
    assert_eq!(seq, Some(3));
    assert!(problem.contains("missing"), "{problem}");
}

#[test]
fn deleted_row_with_renumbering_is_detected() {
    let (dir, _store) = home_with_events(5);
    let (seq, _) = bad_seq_after(
        dir.path(),
        "DELETE FROM audit_events WHERE seq = 3;
         UPDATE audit_events SET seq = seq - 1 WHERE seq > 3;",
    );
    assert_eq!(seq, Some(3));
}

#[test]
fn inserted_row_is_detected() {
    let (dir, _store) = home_with_events(5);
    // Make room after seq 2 and insert a forged event that copies the
    // neighbouring prev_hash, as an attacker would.
    let (seq, problem) = bad_seq_after(
        dir.path(),
        "UPDATE audit_events SET seq = seq + 1000 WHERE seq > 2;
         UPDATE audit_events SET seq = seq - 999 WHERE seq > 1000;
         INSERT INTO audit_events (seq, at, actor, action, subject, details, prev_hash, hash)
           SELECT 3, at, 'mallory', 'release.approve', 'run-1', '{}', hash, hash
           FROM audit_events WHERE seq = 2;",
    );
    assert_eq!(seq, Some(3), "{problem}");
}

#[test]
fn appended_forged_row_is_detected() {
    let (dir, _store) = home_with_events(2);
    let (seq, _) = bad_seq_after(
        dir.path(),
        "INSERT INTO audit_events (seq, at, actor, action, subject, details, prev_hash, hash)
           SELECT 4, at, 'mallory', 'x', 'y', '{}', hash, 'ffff' FROM audit_events WHERE seq = 3;",
    );
    assert_eq!(seq, Some(4));
}

#[test]
fn reordered_rows_are_detected() {
    let (dir, _store) = home_with_events(5);
    let (seq, _) = bad_seq_after(
        dir.path(),
        "UPDATE audit_events SET seq = -1 WHERE seq = 3;
         UPDATE audit_events SET seq = 3 WHERE seq = 4;
         UPDATE audit_events SET seq = 4 WHERE seq = -1;",
    );
    assert_eq!(seq, Some(3));
}

#[test]
fn truncated_tail_is_caught_by_a_witnessed_head() {
    let (dir, store) = home_with_events(5);
    let witnessed = store.verify_chain().unwrap().head_hash;
    drop(store);
    raw(dir.path())
        .execute("DELETE FROM audit_events WHERE seq >= 5", [])
        .unwrap();
    let check = Store::open(dir.path()).unwrap().verify_chain().unwrap();
    assert!(check.is_intact(), "a truncated chain is self-consistent");
    assert_eq!(check.contains(&witnessed), None);
}
