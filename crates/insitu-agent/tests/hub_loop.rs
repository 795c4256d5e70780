//! End-to-end protocol tests: a real hub on loopback, the sponsor client and
//! the appliance agent, run against SQLite and (when INSITU_TEST_PG_URL is
//! set) PostgreSQL. Covers auth, replay, 404-not-403, idempotency, transfer
//! resume, tampering, refunds, the 70/30 split and a hub killed mid-job.

use ed25519_dalek::SigningKey;
use insitu_agent::{poll_once, AgentClient, AgentError, Outcome, RunnableJob, SponsorClient};
use insitu_hub::protocol::{self, TransferManifest};
use insitu_hub::{JobSpec, RunningHub};
use insitu_store::Store;
use std::path::{Path, PathBuf};

/// Databases to run each test against: SQLite always, PostgreSQL when a URL
/// to a server (any database on it) is given.
fn backends() -> Vec<Option<String>> {
    let mut v = vec![None];
    match std::env::var("INSITU_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => v.push(Some(insitu_hub::scratch_postgres_database(&url).expect("create scratch database"))),
        _ => eprintln!("notice: INSITU_TEST_PG_URL unset — PostgreSQL variant skipped (scripts/pg-test-server.sh start prints one)"),
    }
    v
}

struct World {
    _dir: tempfile::TempDir,
    root: PathBuf,
    hub_home: PathBuf,
    db_url: Option<String>,
    hub: Option<RunningHub>,
    sponsor_token: String,
    other_token: String,
    enroll_code: String,
    model_dir: PathBuf,
}

impl World {
    fn new(db_url: Option<String>) -> World {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let hub_home = root.join("hub");
        let hub = RunningHub::start(&hub_home, db_url.as_deref(), "127.0.0.1:0").unwrap();
        let sponsor_token = hub.block_on(hub.db().add_sponsor("acme", "test")).unwrap();
        let other_token = hub.block_on(hub.db().add_sponsor("rival", "test")).unwrap();
        let enroll_code = hub
            .block_on(hub.db().add_hospital("example-hospital", "test"))
            .unwrap();
        let model_dir = root.join("tiny-model");
        std::fs::create_dir_all(&model_dir).unwrap();
        std::fs::write(
            model_dir.join("config.json"),
            br#"{"model_type":"llama","hidden_size":8}"#,
        )
        .unwrap();
        std::fs::write(model_dir.join("tokenizer.json"), br#"{"version":"1.0"}"#).unwrap();
        // Two and a bit chunks, so resume and multi-chunk paths run.
        let weights: Vec<u8> = (0..protocol::CHUNK_SIZE * 2 + 1234)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        std::fs::write(model_dir.join("model.safetensors"), weights).unwrap();
        World {
            _dir: dir,
            root,
            hub_home,
            db_url,
            hub: Some(hub),
            sponsor_token,
            other_token,
            enroll_code,
            model_dir,
        }
    }
    fn url(&self) -> String {
        self.hub.as_ref().unwrap().url().to_string()
    }
    fn sponsor(&self) -> SponsorClient {
        SponsorClient::new(&self.url(), &self.sponsor_token)
    }
    fn rival(&self) -> SponsorClient {
        SponsorClient::new(&self.url(), &self.other_token)
    }
    fn appliance(&self) -> (Store, AgentClient) {
        let home = self.root.join("appliance");
        let (store, _) = Store::init(&home).unwrap();
        let key = store.home().signing_key().unwrap();
        (store, AgentClient::new(&self.url(), key))
    }
    fn enrolled(&self) -> (Store, AgentClient) {
        let (store, agent) = self.appliance();
        agent.enroll(&self.enroll_code, "appliance-1").unwrap();
        (store, agent)
    }
    fn ledger(&self) -> insitu_hub::LedgerReport {
        let hub = self.hub.as_ref().unwrap();
        hub.block_on(hub.db().ledger_report()).unwrap()
    }
    fn balance(&self, name: &str) -> i64 {
        self.ledger()
            .accounts
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.balance_minor)
            .unwrap_or(0)
    }
    /// Abrupt stop (as in a crash), then a fresh hub on the same home and database.
    fn kill_and_restart(&mut self) {
        drop(self.hub.take());
        self.hub =
            Some(RunningHub::start(&self.hub_home, self.db_url.as_deref(), "127.0.0.1:0").unwrap());
    }
    fn spec(&self, digest: &str, fee: i64) -> JobSpec {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/job.toml"),
        )
        .unwrap();
        let mut spec = JobSpec::from_toml_str(&text).unwrap();
        spec.model.base_digest = digest.to_string();
        spec.fee.amount_minor = fee;
        spec
    }
}

fn bundle_executor(dir: PathBuf) -> impl FnMut(&RunnableJob) -> Outcome {
    move |job: &RunnableJob| {
        assert!(job.model_dir.join("model.safetensors").exists());
        let b = dir.join(&job.id);
        std::fs::create_dir_all(b.join("adapter")).unwrap();
        std::fs::write(
            b.join("adapter/adapter_model.safetensors"),
            b"synthetic adapter bytes",
        )
        .unwrap();
        std::fs::write(
            b.join("manifest.json"),
            format!("{{\"job\":\"{}\"}}", job.id),
        )
        .unwrap();
        Outcome::Delivered { bundle_dir: b }
    }
}

fn status(e: &AgentError) -> u16 {
    e.status()
        .unwrap_or_else(|| panic!("expected an HTTP error, got {e}"))
}

#[test]
fn full_loop_delivers_and_splits_70_30() {
    for db in backends() {
        let w = World::new(db);
        let pushed = w.sponsor().push_model(&w.model_dir, "tiny").unwrap();
        assert_eq!(pushed.stats.chunks_total, 5);
        let job = w
            .sponsor()
            .post_job(&w.spec(&pushed.digest, 1001), "post-1")
            .unwrap();
        // A retried POST with the same key returns the same job, charges once.
        assert_eq!(
            w.sponsor()
                .post_job(&w.spec(&pushed.digest, 1001), "post-1")
                .unwrap(),
            job
        );
        assert_eq!(w.balance("escrow"), 1001);
        assert_eq!(w.balance("sponsor:acme"), -1001);

        let (mut store, agent) = w.enrolled();
        let mut exec = bundle_executor(w.root.join("bundles"));
        let r = poll_once(&mut store, &agent, &mut exec, "agent").unwrap();
        assert_eq!(
            (r.pulled, r.ran.len()),
            (1, 0),
            "nothing runs before the IG officer decides"
        );
        assert_eq!(store.hub_job(&job).unwrap().unwrap().state, "offered");
        store
            .tx(|tx| tx.decide_job("ig-officer", &job, true, ""))
            .unwrap();
        let r = poll_once(&mut store, &agent, &mut exec, "agent").unwrap();
        assert_eq!(r.ran, vec![(job.clone(), "delivered".to_string())]);
        assert!(store
            .home()
            .models_dir()
            .join(&pushed.digest)
            .join("model.safetensors")
            .exists());

        let shown = w.sponsor().job(&job).unwrap();
        assert_eq!(shown["state"], "delivered");
        assert_eq!(shown["hospital"], "example-hospital");
        let out = w.root.join("pulled");
        let (digest, _) = w.sponsor().pull_bundle(&job, &out).unwrap();
        assert_eq!(Some(digest.as_str()), shown["bundle_digest"].as_str());
        assert_eq!(
            std::fs::read(out.join("adapter/adapter_model.safetensors")).unwrap(),
            b"synthetic adapter bytes"
        );

        let ledger = w.ledger();
        assert!(ledger.balanced, "{:?}", ledger.problems);
        assert_eq!(w.balance("escrow"), 0);
        assert_eq!(
            w.balance("hospital:example-hospital"),
            701,
            "remainder goes to the hospital"
        );
        assert_eq!(w.balance("platform"), 300);
        // Polling again changes nothing and charges nothing.
        poll_once(&mut store, &agent, &mut exec, "agent").unwrap();
        assert_eq!(w.balance("platform"), 300);
        assert!(w.ledger().balanced);
    }
}

#[test]
fn other_sponsors_and_hospitals_get_404_never_403() {
    for db in backends() {
        let w = World::new(db);
        let digest = w.sponsor().push_model(&w.model_dir, "tiny").unwrap().digest;
        let job = w.sponsor().post_job(&w.spec(&digest, 500), "k").unwrap();
        assert_eq!(status(&w.rival().job(&job).unwrap_err()), 404);
        assert_eq!(status(&w.rival().job("job_doesnotexist").unwrap_err()), 404);
        assert_eq!(
            status(&w.rival().pull_bundle(&job, &w.root.join("x")).unwrap_err()),
            404
        );
        // A rival cannot use another sponsor's model either.
        assert_eq!(
            status(&w.rival().post_job(&w.spec(&digest, 500), "k").unwrap_err()),
            422
        );
        // A bad token is 401 (who you are), not a hint about the job.
        let bad = SponsorClient::new(&w.url(), "isk_wrong");
        assert_eq!(status(&bad.job(&job).unwrap_err()), 401);
        // A second hospital, not targeted, sees nothing and cannot act.
        let code2 = w
            .hub
            .as_ref()
            .unwrap()
            .block_on(
                w.hub
                    .as_ref()
                    .unwrap()
                    .db()
                    .add_hospital("other-hospital", "t"),
            )
            .unwrap();
        let other = AgentClient::new(&w.url(), SigningKey::from_bytes(&[42u8; 32]));
        other.enroll(&code2, "appliance-2").unwrap();
        assert!(other.jobs().unwrap().is_empty());
        assert_eq!(status(&other.report(&job, "accept", "").unwrap_err()), 404);
        assert_eq!(
            status(&other.fetch_model(&digest, &w.root.join("m")).unwrap_err()),
            404
        );
        assert!(w.ledger().balanced);
    }
}

#[test]
fn enrollment_and_signed_requests_are_enforced() {
    for db in backends() {
        let w = World::new(db);
        let (_store, agent) = w.appliance();
        // Not enrolled yet.
        assert_eq!(status(&agent.jobs().unwrap_err()), 401);
        assert_eq!(status(&agent.enroll("enr_wrong", "a").unwrap_err()), 401);
        agent.enroll(&w.enroll_code, "appliance-1").unwrap();
        assert!(agent.jobs().unwrap().is_empty());
        // The code is one-time.
        let thief = AgentClient::new(&w.url(), SigningKey::from_bytes(&[9u8; 32]));
        assert_eq!(
            status(&thief.enroll(&w.enroll_code, "evil").unwrap_err()),
            401
        );
        // A key that was never enrolled is refused.
        assert_eq!(status(&thief.jobs().unwrap_err()), 401);

        // Raw requests: replay, stale timestamp, wrong key, tampered body.
        let key = SigningKey::from_bytes(&[9u8; 32]);
        let (store, _) = Store::init(&w.root.join("appliance")).unwrap();
        let real = store.home().signing_key().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let send =
            |k: &SigningKey, ts: i64, nonce: &str, signed_body: &[u8], sent_body: &[u8]| -> u16 {
                let mut req = ureq::post(&format!("{}/v1/agent/chunks/missing", w.url()));
                for (h, v) in protocol::sign_request(
                    k,
                    "POST",
                    "/v1/agent/chunks/missing",
                    signed_body,
                    ts,
                    nonce,
                ) {
                    req = req.set(h, &v);
                }
                match req.send_bytes(sent_body) {
                    Ok(r) => r.status(),
                    Err(ureq::Error::Status(s, _)) => s,
                    Err(e) => panic!("{e}"),
                }
            };
        let body = br#"{"chunks":[]}"#;
        assert_eq!(
            send(&real, now, "00112233445566778899aabbccddeeff", body, body),
            200
        );
        assert_eq!(
            send(&real, now, "00112233445566778899aabbccddeeff", body, body),
            401,
            "replay refused"
        );
        assert_eq!(
            send(
                &real,
                now - 3600,
                "10112233445566778899aabbccddeeff",
                body,
                body
            ),
            401,
            "stale refused"
        );
        assert_eq!(
            send(
                &real,
                now + 3600,
                "20112233445566778899aabbccddeeff",
                body,
                body
            ),
            401,
            "future refused"
        );
        assert_eq!(
            send(&key, now, "30112233445566778899aabbccddeeff", body, body),
            401,
            "wrong key refused"
        );
        assert_eq!(
            send(
                &real,
                now,
                "40112233445566778899aabbccddeeff",
                body,
                br#"{"chunks":["x"]}"#
            ),
            401,
            "body swap refused"
        );
        let unsigned = ureq::get(&format!("{}/v1/agent/jobs", w.url())).call();
        assert!(matches!(unsigned, Err(ureq::Error::Status(401, _))));
    }
}

#[test]
fn decline_fail_and_gate_refusal_refund_the_sponsor() {
    for db in backends() {
        let w = World::new(db);
        let digest = w.sponsor().push_model(&w.model_dir, "tiny").unwrap().digest;
        let (mut store, agent) = w.enrolled();
        let declined = w.sponsor().post_job(&w.spec(&digest, 100), "a").unwrap();
        let failed = w.sponsor().post_job(&w.spec(&digest, 200), "b").unwrap();
        let refused = w.sponsor().post_job(&w.spec(&digest, 400), "c").unwrap();
        assert_eq!(w.balance("sponsor:acme"), -700);
        let mut exec = |job: &RunnableJob| {
            if job.spec.fee.amount_minor == 200 {
                Outcome::Failed {
                    reason: "training diverged".into(),
                }
            } else {
                Outcome::RefusedByGate {
                    reason: "MIA AUC 0.71 above 0.6".into(),
                }
            }
        };
        poll_once(&mut store, &agent, &mut exec, "agent").unwrap();
        store
            .tx(|tx| tx.decide_job("ig", &declined, false, "not a use we support"))
            .unwrap();
        store
            .tx(|tx| tx.decide_job("ig", &failed, true, ""))
            .unwrap();
        store
            .tx(|tx| tx.decide_job("ig", &refused, true, ""))
            .unwrap();
        poll_once(&mut store, &agent, &mut exec, "agent").unwrap();
        for (job, state) in [
            (&declined, "declined"),
            (&failed, "failed"),
            (&refused, "refused-by-gate"),
        ] {
            assert_eq!(w.sponsor().job(job).unwrap()["state"], state);
            assert_eq!(store.hub_job(job).unwrap().unwrap().state, state);
        }
        assert_eq!(
            w.sponsor().job(&refused).unwrap()["detail"],
            "MIA AUC 0.71 above 0.6"
        );
        assert_eq!(w.balance("sponsor:acme"), 0);
        assert_eq!(w.balance("escrow"), 0);
        assert_eq!(w.balance("platform"), 0);
        let l = w.ledger();
        assert!(l.balanced, "{:?}", l.problems);
        // Refused jobs have no bundle to pull.
        assert_eq!(
            status(
                &w.sponsor()
                    .pull_bundle(&refused, &w.root.join("b"))
                    .unwrap_err()
            ),
            404
        );
    }
}

#[test]
fn tampered_or_wrongly_signed_bundles_are_refused() {
    for db in backends() {
        let w = World::new(db);
        let digest = w.sponsor().push_model(&w.model_dir, "tiny").unwrap().digest;
        let job = w.sponsor().post_job(&w.spec(&digest, 1000), "p").unwrap();
        let (mut store, agent) = w.enrolled();
        let mut never =
            |_: &RunnableJob| -> Outcome { unreachable!("the test drives delivery by hand") };
        poll_once(&mut store, &agent, &mut never, "agent").unwrap();
        agent.report(&job, "accept", "").unwrap();
        agent.report(&job, "start", "").unwrap();
        // Upload real bytes, then claim different content in the manifest.
        let real = agent.put_chunk(b"real adapter").unwrap();
        let fake = protocol::sha256_hex(b"forged adapter");
        let tampered = TransferManifest {
            files: vec![protocol::TransferFile {
                path: "adapter.safetensors".into(),
                size: 12,
                sha256: fake.clone(),
                chunks: vec![real.clone()],
            }],
        };
        let key = Store::open(&w.root.join("appliance"))
            .unwrap()
            .home()
            .signing_key()
            .unwrap();
        let sign = |k: &SigningKey, m: &TransferManifest| {
            use ed25519_dalek::Signer;
            hex::encode(
                k.sign(&protocol::bundle_signing_message(&job, &m.digest()))
                    .to_bytes(),
            )
        };
        let e = agent
            .deliver_manifest(&job, &tampered, &sign(&key, &tampered))
            .unwrap_err();
        assert_eq!(status(&e), 422, "{e}");
        // Correct digests but signed by another key.
        let honest = TransferManifest {
            files: vec![protocol::TransferFile {
                path: "adapter.safetensors".into(),
                size: 12,
                sha256: protocol::sha256_hex(b"real adapter"),
                chunks: vec![real],
            }],
        };
        let e = agent
            .deliver_manifest(
                &job,
                &honest,
                &sign(&SigningKey::from_bytes(&[1u8; 32]), &honest),
            )
            .unwrap_err();
        assert_eq!(status(&e), 422, "{e}");
        // A chunk whose body does not match its name is refused on upload.
        let mut req = ureq::put(&format!("{}/v1/agent/chunks/{fake}", w.url()));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        for (h, v) in protocol::sign_request(
            &key,
            "PUT",
            &format!("/v1/agent/chunks/{fake}"),
            b"real adapter",
            now,
            "50112233445566778899aabbccddeeff",
        ) {
            req = req.set(h, &v);
        }
        assert!(matches!(
            req.send_bytes(b"real adapter"),
            Err(ureq::Error::Status(422, _))
        ));
        assert_eq!(w.sponsor().job(&job).unwrap()["state"], "running");
        assert_eq!(w.balance("escrow"), 1000);
        // The honest, correctly signed delivery goes through, once.
        agent
            .deliver_manifest(&job, &honest, &sign(&key, &honest))
            .unwrap();
        agent
            .deliver_manifest(&job, &honest, &sign(&key, &honest))
            .unwrap();
        assert_eq!(w.balance("platform"), 300);
        assert!(w.ledger().balanced);
    }
}

#[test]
fn pickle_and_code_files_never_cross() {
    for db in backends() {
        let w = World::new(db);
        std::fs::write(w.model_dir.join("pytorch_model.bin"), b"\x80\x04pickle").unwrap();
        std::fs::write(w.model_dir.join("modeling.py"), b"import os").unwrap();
        let e = w
            .sponsor()
            .push_model(&w.model_dir, "tiny")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("pytorch_model.bin") && e.contains("modeling.py"),
            "{e}"
        );
    }
}

#[test]
fn interrupted_push_resumes_and_hub_crash_mid_job_neither_double_charges_nor_orphans_escrow() {
    for db in backends() {
        let mut w = World::new(db);
        // Interrupted upload: the first chunk arrived before the "crash".
        let first = protocol::read_chunk(&w.model_dir.join("model.safetensors"), 0).unwrap();
        w.sponsor().put_chunk(&first).unwrap();
        w.kill_and_restart();
        let pushed = w.sponsor().push_model(&w.model_dir, "tiny").unwrap();
        assert_eq!(
            pushed.stats.chunks_moved,
            pushed.stats.chunks_total - 1,
            "only missing chunks are resent"
        );
        let again = w.sponsor().push_model(&w.model_dir, "tiny").unwrap();
        assert_eq!(
            (again.digest, again.stats.chunks_moved),
            (pushed.digest.clone(), 0)
        );

        let job = w
            .sponsor()
            .post_job(&w.spec(&pushed.digest, 999), "once")
            .unwrap();
        let (mut store, agent) = w.enrolled();
        let mut exec = bundle_executor(w.root.join("bundles"));
        poll_once(&mut store, &agent, &mut exec, "agent").unwrap();
        store.tx(|tx| tx.decide_job("ig", &job, true, "")).unwrap();
        // The hub dies while the job is running on the appliance: the
        // executor kills it just before the bundle would be uploaded.
        let mut hub_slot = w.hub.take();
        let mut inner = bundle_executor(w.root.join("bundles"));
        let mut crash_exec = |job: &RunnableJob| {
            drop(hub_slot.take());
            inner(job)
        };
        let err = poll_once(&mut store, &agent, &mut crash_exec, "agent").unwrap_err();
        assert!(matches!(err, AgentError::Transport { .. }), "{err}");
        assert_eq!(store.hub_job(&job).unwrap().unwrap().state, "running");
        w.kill_and_restart();
        let agent = AgentClient::new(&w.url(), store.home().signing_key().unwrap());
        assert_eq!(w.sponsor().job(&job).unwrap()["state"], "running");
        assert_eq!(w.balance("escrow"), 999, "escrow held across the crash");
        // The retried post after the crash is answered, not charged again.
        assert_eq!(
            w.sponsor()
                .post_job(&w.spec(&pushed.digest, 999), "once")
                .unwrap(),
            job
        );
        assert_eq!(w.balance("sponsor:acme"), -999);
        let r = poll_once(&mut store, &agent, &mut exec, "agent").unwrap();
        assert_eq!(r.ran, vec![(job.clone(), "delivered".to_string())]);
        let l = w.ledger();
        assert!(l.balanced, "{:?}", l.problems);
        assert_eq!(
            (
                w.balance("escrow"),
                w.balance("hospital:example-hospital"),
                w.balance("platform")
            ),
            (0, 700, 299)
        );
        // An interrupted model download resumes from the verified chunks kept.
        let fresh = w.root.join("fresh-models");
        let staging = fresh
            .join(format!(".partial-{}", pushed.digest))
            .join("chunks");
        std::fs::create_dir_all(&staging).unwrap();
        std::fs::write(staging.join(protocol::sha256_hex(&first)), &first).unwrap();
        let (_, stats) = agent.fetch_model(&pushed.digest, &fresh).unwrap();
        assert_eq!(stats.chunks_moved, stats.chunks_total - 1);
    }
}

#[test]
fn a_job_past_its_deadline_cannot_be_accepted() {
    for db in backends() {
        let w = World::new(db);
        let digest = w.sponsor().push_model(&w.model_dir, "tiny").unwrap().digest;
        let mut spec = w.spec(&digest, 100);
        spec.job.deadline = "2020-01-01T00:00:00Z".into();
        let job = w.sponsor().post_job(&spec, "late").unwrap();
        let (mut store, agent) = w.enrolled();
        assert_eq!(status(&agent.report(&job, "accept", "").unwrap_err()), 409);
        // Through the runner: the IG officer's acceptance comes back as withdrawn.
        let mut never = |_: &RunnableJob| -> Outcome { unreachable!("an overdue job never runs") };
        poll_once(&mut store, &agent, &mut never, "agent").unwrap();
        store.tx(|tx| tx.decide_job("ig", &job, true, "")).unwrap();
        poll_once(&mut store, &agent, &mut never, "agent").unwrap();
        assert_eq!(store.hub_job(&job).unwrap().unwrap().state, "withdrawn");
        assert_eq!(w.sponsor().job(&job).unwrap()["state"], "offered");
        assert!(w.ledger().balanced);
    }
}

#[test]
fn staff_can_close_a_deferred_job_and_the_sponsor_is_refunded() {
    for db in backends() {
        let w = World::new(db);
        let digest = w.sponsor().push_model(&w.model_dir, "tiny").unwrap().digest;
        let job = w.sponsor().post_job(&w.spec(&digest, 300), "x").unwrap();
        let (mut store, agent) = w.enrolled();
        let mut waiting = |_: &RunnableJob| Outcome::Deferred {
            reason: "waiting for approvals".into(),
        };
        poll_once(&mut store, &agent, &mut waiting, "agent").unwrap();
        store.tx(|tx| tx.decide_job("ig", &job, true, "")).unwrap();
        let r = poll_once(&mut store, &agent, &mut waiting, "agent").unwrap();
        assert!(r.ran[0].1.starts_with("deferred"), "{:?}", r.ran);
        assert_eq!(w.sponsor().job(&job).unwrap()["state"], "running");
        assert_eq!(w.balance("escrow"), 300, "a deferred job keeps its escrow");
        store
            .tx(|tx| {
                tx.close_job(
                    "safety-officer",
                    &job,
                    true,
                    "approver rejected: card overstates accuracy",
                )
            })
            .unwrap();
        poll_once(&mut store, &agent, &mut waiting, "agent").unwrap();
        assert_eq!(w.sponsor().job(&job).unwrap()["state"], "refused-by-gate");
        assert_eq!((w.balance("escrow"), w.balance("sponsor:acme")), (0, 0));
        assert!(w.ledger().balanced);
    }
}
