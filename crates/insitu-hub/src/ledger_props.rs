//! Property test: random sequences of post / accept / decline / start /
//! deliver / fail / refuse / retry, with idempotency keys reused the way a
//! retrying client reuses them, keep every ledger invariant after every step.

use crate::db::HubDb;
use crate::jobs::Report;
use crate::parties::{Hospital, Sponsor};
use crate::protocol::{self, TransferFile, TransferManifest};
use ed25519_dalek::{Signer, SigningKey};
use proptest::prelude::*;
use sqlx::Row;

#[derive(Debug, Clone)]
enum Op {
    Post {
        fee: i64,
        key: u8,
    },
    Report {
        job: usize,
        hospital: usize,
        action: u8,
    },
    Deliver {
        job: usize,
        hospital: usize,
    },
    Retry,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (1i64..100_000, 0u8..4).prop_map(|(fee, key)| Op::Post { fee, key }),
        5 => (0usize..6, 0usize..2, 0u8..5).prop_map(|(job, hospital, action)| Op::Report { job, hospital, action }),
        2 => (0usize..6, 0usize..2).prop_map(|(job, hospital)| Op::Deliver { job, hospital }),
        1 => Just(Op::Retry),
    ]
}

struct World {
    _dir: tempfile::TempDir,
    db: HubDb,
    sponsor: Sponsor,
    hospitals: Vec<(Hospital, SigningKey)>,
    model: String,
    jobs: Vec<String>,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let db = HubDb::open(dir.path(), None).await.unwrap();
    let token = db.add_sponsor("acme", "t").await.unwrap();
    let sponsor = db.sponsor_by_token(&token).await.unwrap();
    let mut hospitals = Vec::new();
    for (i, name) in ["north", "south"].iter().enumerate() {
        let code = db.add_hospital(name, "t").await.unwrap();
        let key = SigningKey::from_bytes(&[i as u8 + 1; 32]);
        let h = db
            .enroll(&code, &hex::encode(key.verifying_key().as_bytes()), name)
            .await
            .unwrap();
        hospitals.push((h, key));
    }
    let weights = b"tiny weights".to_vec();
    let sha = protocol::sha256_hex(&weights);
    db.put_chunk(&format!("sponsor:{}", sponsor.id), &sha, &weights)
        .await
        .unwrap();
    let manifest = TransferManifest {
        files: vec![TransferFile {
            path: "model.safetensors".into(),
            size: weights.len() as u64,
            sha256: sha.clone(),
            chunks: vec![sha],
        }],
    };
    let model = db
        .register_model(&sponsor, "tiny", &manifest)
        .await
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    World {
        _dir: dir,
        db,
        sponsor,
        hospitals,
        model,
        jobs: Vec::new(),
    }
}

fn spec(model: &str, fee: i64) -> serde_json::Value {
    let mut s = crate::JobSpec::from_toml_str(include_str!("../../../examples/job.toml")).unwrap();
    s.model.base_digest = model.to_string();
    s.fee.amount_minor = fee;
    s.job.target_hospitals = vec!["north".into(), "south".into()];
    serde_json::to_value(&s).unwrap()
}

async fn apply(w: &mut World, op: &Op) {
    match op {
        Op::Post { fee, key } => {
            if let Ok((_, v)) =
                w.db.post_job(&w.sponsor, &spec(&w.model, *fee), &format!("k{key}"))
                    .await
            {
                let id = v["job_id"].as_str().unwrap().to_string();
                if !w.jobs.contains(&id) {
                    w.jobs.push(id);
                }
            }
        }
        Op::Report {
            job,
            hospital,
            action,
        } => {
            let Some(id) = w.jobs.get(*job) else { return };
            let (h, _) = &w.hospitals[*hospital];
            let (name, report) = match action {
                0 => ("accept", Report::Accept),
                1 => (
                    "decline",
                    Report::Decline {
                        reason: "no".into(),
                    },
                ),
                2 => ("start", Report::Start),
                3 => (
                    "fail",
                    Report::Fail {
                        reason: "oom".into(),
                    },
                ),
                _ => (
                    "refuse",
                    Report::RefusedByGate {
                        reason: "mia".into(),
                    },
                ),
            };
            let _ =
                w.db.hospital_report(h, id, report, &format!("{id}:{name}"))
                    .await;
        }
        Op::Deliver { job, hospital } => {
            let Some(id) = w.jobs.get(*job) else { return };
            let (h, key) = &w.hospitals[*hospital];
            let bytes = format!("adapter for {id}").into_bytes();
            let sha = protocol::sha256_hex(&bytes);
            w.db.put_chunk(&format!("hospital:{}", h.id), &sha, &bytes)
                .await
                .unwrap();
            let m = TransferManifest {
                files: vec![TransferFile {
                    path: "adapter.safetensors".into(),
                    size: bytes.len() as u64,
                    sha256: sha.clone(),
                    chunks: vec![sha],
                }],
            };
            let sig = hex::encode(
                key.sign(&protocol::bundle_signing_message(id, &m.digest()))
                    .to_bytes(),
            );
            let _ =
                w.db.deliver(h, id, &m, &sig, &format!("{id}:deliver:{}", m.digest()))
                    .await;
        }
        Op::Retry => {}
    }
}

async fn check(w: &World) -> Result<(), String> {
    let report = w.db.ledger_report().await.map_err(|e| e.to_string())?;
    if !report.balanced {
        return Err(format!("{:?}", report.problems));
    }
    let rows = sqlx::query("SELECT j.id, j.state, j.fee_minor, t.kind FROM jobs j JOIN ledger_txs t ON t.job_id = j.id")
        .fetch_all(w.db.pool())
        .await
        .map_err(|e| e.to_string())?;
    let mut per_job: std::collections::BTreeMap<String, (String, Vec<String>)> = Default::default();
    for r in rows {
        let e = per_job
            .entry(r.get::<String, _>("id"))
            .or_insert_with(|| (r.get("state"), Vec::new()));
        e.1.push(r.get("kind"));
    }
    for (id, (state, kinds)) in per_job {
        let count = |k: &str| kinds.iter().filter(|x| x.starts_with(k)).count();
        let (escrow, split, refund) = (count("escrow"), count("split"), count("refund"));
        let expected = match state.as_str() {
            "delivered" => (1, 1, 0),
            "declined" | "failed" | "refused-by-gate" => (1, 0, 1),
            _ => (1, 0, 0),
        };
        if (escrow, split, refund) != expected {
            return Err(format!(
                "job {id} in state {state}: escrow/split/refund = {:?}, expected {expected:?}",
                (escrow, split, refund)
            ));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn random_job_histories_keep_the_ledger_balanced(ops in prop::collection::vec(op(), 1..30)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let outcome: Result<(), String> = rt.block_on(async {
            let mut w = world().await;
            let mut last: Option<Op> = None;
            for op in &ops {
                let op = match op { Op::Retry => last.clone().unwrap_or(Op::Retry), other => other.clone() };
                apply(&mut w, &op).await;
                check(&w).await.map_err(|e| format!("after {op:?}: {e}"))?;
                last = Some(op);
            }
            Ok(())
        });
        prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
    }
}
