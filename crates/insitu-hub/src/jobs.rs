//! Jobs on the hub: posting (fee into escrow), offers to hospitals, state
//! changes reported by the appliance, delivery (fee split) and refunds, all
//! with idempotency keys so a retried request never charges twice. Each
//! state change, its ledger transaction, its audit event and the stored
//! idempotent response commit in one database transaction.

use crate::db::{audit, get_i64, get_str, new_id, now, HubDb};
use crate::error::{HubError, Result};
use crate::ledger::{self, split_fee, Leg};
use crate::parties::{Hospital, Sponsor};
use crate::protocol::{self, state, TransferManifest};
use crate::spec::JobSpec;
use serde_json::{json, Value};
use sqlx::{AnyConnection, Row};

/// A stored response for a mutating request (HTTP status, JSON body).
pub(crate) type Reply = (u16, Value);

/// Returns the stored reply when `key` was already used in `scope` with the
/// same request; refuses reuse of a key for a different request.
async fn replay(
    conn: &mut AnyConnection,
    scope: &str,
    key: &str,
    request_hash: &str,
) -> Result<Option<Reply>> {
    let row = sqlx::query(
        "SELECT request_hash, status, response FROM idempotency WHERE scope = $1 AND key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    if get_str(&row, "request_hash")? != request_hash {
        return Err(HubError::Conflict(format!(
            "idempotency key {key:?} was already used for a different request — use a fresh key for a new request"
        )));
    }
    let body: Value = serde_json::from_str(&get_str(&row, "response")?).unwrap_or(Value::Null);
    Ok(Some((get_i64(&row, "status")? as u16, body)))
}

/// Records the reply under the key. The primary key makes a concurrent
/// duplicate fail (and roll back its effects) instead of charging twice.
async fn remember(
    conn: &mut AnyConnection,
    scope: &str,
    key: &str,
    request_hash: &str,
    reply: &Reply,
) -> Result<()> {
    sqlx::query("INSERT INTO idempotency (scope, key, request_hash, status, response, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(scope)
        .bind(key)
        .bind(request_hash)
        .bind(reply.0 as i64)
        .bind(reply.1.to_string())
        .bind(now())
        .execute(conn)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                HubError::Conflict("a concurrent request with the same idempotency key is in flight — retry".into())
            }
            _ => e.into(),
        })?;
    Ok(())
}

/// What an appliance reports about a job offered to or run by its hospital.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Report {
    Accept,
    Decline { reason: String },
    Start,
    Fail { reason: String },
    RefusedByGate { reason: String },
}

async fn set_state(
    conn: &mut AnyConnection,
    job_id: &str,
    from: &[&str],
    to: &str,
    actor: &str,
    detail: Value,
) -> Result<bool> {
    let placeholders: Vec<String> = (0..from.len()).map(|i| format!("${}", i + 4)).collect();
    let sql = format!(
        "UPDATE jobs SET state = $1, updated_at = $2 WHERE id = $3 AND state IN ({})",
        placeholders.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(to).bind(now()).bind(job_id);
    for f in from {
        q = q.bind(*f);
    }
    let changed = q.execute(&mut *conn).await?.rows_affected() == 1;
    if changed {
        audit(conn, actor, &format!("job.{to}"), job_id, detail).await?;
    }
    Ok(changed)
}

struct JobRow {
    sponsor_name: String,
    state: String,
    fee_minor: i64,
    currency: String,
    hospital_id: Option<String>,
    deadline: Option<String>,
}

async fn load_job(conn: &mut AnyConnection, job_id: &str) -> Result<Option<JobRow>> {
    let row = sqlx::query(
        "SELECT s.name AS sponsor_name, j.state, j.fee_minor, j.currency, j.hospital_id, j.spec
         FROM jobs j JOIN sponsors s ON s.id = j.sponsor_id WHERE j.id = $1",
    )
    .bind(job_id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(JobRow {
            sponsor_name: r.try_get("sponsor_name")?,
            state: r.try_get("state")?,
            fee_minor: r.try_get("fee_minor")?,
            currency: r.try_get("currency")?,
            hospital_id: r.try_get("hospital_id")?,
            deadline: serde_json::from_str::<Value>(&r.try_get::<String, _>("spec")?)
                .ok()
                .and_then(|v| v["job"]["deadline"].as_str().map(str::to_string)),
        })
    })
    .transpose()
}

async fn refund(conn: &mut AnyConnection, job_id: &str, job: &JobRow, why: &str) -> Result<()> {
    let sponsor = format!("sponsor:{}", job.sponsor_name);
    ledger::post(
        conn,
        job_id,
        why,
        &job.currency,
        &[
            Leg {
                account: "escrow",
                kind: "escrow",
                amount_minor: -job.fee_minor,
            },
            Leg {
                account: &sponsor,
                kind: "sponsor",
                amount_minor: job.fee_minor,
            },
        ],
    )
    .await
}

impl HubDb {
    /// Posts a job: validates the spec, checks the model belongs to the
    /// sponsor and the targets exist, moves the fee into escrow and offers
    /// the job, all at once.
    pub(crate) async fn post_job(
        &self,
        sponsor: &Sponsor,
        spec_json: &Value,
        idem_key: &str,
    ) -> Result<Reply> {
        let spec = JobSpec::from_json(spec_json).map_err(|issues| {
            HubError::Invalid(format!(
                "the job spec has {} problem(s):\n{}",
                issues.len(),
                issues
                    .iter()
                    .map(|i| format!("  {i}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ))
        })?;
        let request_hash = protocol::sha256_hex(spec_json.to_string().as_bytes());
        let scope = format!("sponsor:{}", sponsor.id);
        let mut tx = self.pool().begin().await?;
        if let Some(reply) = replay(&mut tx, &scope, idem_key, &request_hash).await? {
            return Ok(reply);
        }
        let model = sqlx::query("SELECT digest FROM models WHERE sponsor_id = $1 AND digest = $2")
            .bind(&sponsor.id)
            .bind(&spec.model.base_digest)
            .fetch_optional(&mut *tx)
            .await?;
        if model.is_none() {
            return Err(HubError::Invalid(format!(
                "model.base_digest: no model {} pushed by you — run `insitu sponsor model push` first",
                spec.model.base_digest
            )));
        }
        let mut hospital_ids = Vec::new();
        for (i, name) in spec.job.target_hospitals.iter().enumerate() {
            let row = sqlx::query("SELECT id FROM hospitals WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
            match row {
                Some(r) => hospital_ids.push(get_str(&r, "id")?),
                None => {
                    return Err(HubError::Invalid(format!(
                        "job.target_hospitals[{i}]: no hospital named {name:?} on this hub"
                    )))
                }
            }
        }
        hospital_ids.sort();
        hospital_ids.dedup();
        let job_id = new_id("job");
        let t = now();
        let actor = format!("sponsor:{}", sponsor.name);
        sqlx::query(
            "INSERT INTO jobs (id, sponsor_id, spec, model_digest, state, fee_minor, currency, hospital_id, detail, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, '', $8, $8)",
        )
        .bind(&job_id)
        .bind(&sponsor.id)
        .bind(serde_json::to_string(&spec).map_err(|e| HubError::Internal(e.to_string()))?)
        .bind(&spec.model.base_digest)
        .bind(state::POSTED)
        .bind(spec.fee.amount_minor)
        .bind(&spec.fee.currency)
        .bind(t)
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            &actor,
            "job.posted",
            &job_id,
            json!({"fee_minor": spec.fee.amount_minor, "currency": spec.fee.currency}),
        )
        .await?;
        let sponsor_account = format!("sponsor:{}", sponsor.name);
        ledger::post(
            &mut tx,
            &job_id,
            "escrow",
            &spec.fee.currency,
            &[
                Leg {
                    account: &sponsor_account,
                    kind: "sponsor",
                    amount_minor: -spec.fee.amount_minor,
                },
                Leg {
                    account: "escrow",
                    kind: "escrow",
                    amount_minor: spec.fee.amount_minor,
                },
            ],
        )
        .await?;
        for h in &hospital_ids {
            sqlx::query(
                "INSERT INTO job_offers (job_id, hospital_id, state) VALUES ($1, $2, 'offered')",
            )
            .bind(&job_id)
            .bind(h)
            .execute(&mut *tx)
            .await?;
        }
        set_state(
            &mut tx,
            &job_id,
            &[state::POSTED],
            state::OFFERED,
            &actor,
            json!({"hospitals": spec.job.target_hospitals}),
        )
        .await?;
        let reply = (201, json!({"job_id": job_id, "state": state::OFFERED}));
        remember(&mut tx, &scope, idem_key, &request_hash, &reply).await?;
        tx.commit().await?;
        Ok(reply)
    }

    /// A job as its sponsor sees it; `NotFound` for anyone else's job.
    pub(crate) async fn job_for_sponsor(&self, sponsor: &Sponsor, job_id: &str) -> Result<Value> {
        let mut conn = self.pool().acquire().await?;
        let row = sqlx::query("SELECT id, spec, state, fee_minor, currency, hospital_id, detail, created_at, updated_at FROM jobs WHERE id = $1 AND sponsor_id = $2")
            .bind(job_id)
            .bind(&sponsor.id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("job {job_id}")))?;
        let hospital = match row.try_get::<Option<String>, _>("hospital_id")? {
            Some(h) => crate::parties::hospital_name(&mut conn, &h).await?,
            None => None,
        };
        let offers = sqlx::query("SELECT h.name, o.state FROM job_offers o JOIN hospitals h ON h.id = o.hospital_id WHERE o.job_id = $1 ORDER BY h.name")
            .bind(job_id)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| Ok(json!({"hospital": get_str(r, "name")?, "state": get_str(r, "state")?})))
            .collect::<Result<Vec<_>>>()?;
        let events = job_events(&mut conn, job_id).await?;
        let spec: Value = serde_json::from_str(&get_str(&row, "spec")?).unwrap_or(Value::Null);
        let bundle = sqlx::query("SELECT digest FROM bundles WHERE job_id = $1")
            .bind(job_id)
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| get_str(&r, "digest"))
            .transpose()?;
        Ok(json!({
            "id": job_id,
            "state": get_str(&row, "state")?,
            "detail": get_str(&row, "detail")?,
            "fee_minor": get_i64(&row, "fee_minor")?,
            "currency": get_str(&row, "currency")?,
            "hospital": hospital,
            "offers": offers,
            "bundle_digest": bundle,
            "created_at": get_i64(&row, "created_at")?,
            "updated_at": get_i64(&row, "updated_at")?,
            "events": events,
            "spec": spec,
        }))
    }

    /// Jobs visible to a hospital: those offered to it (not withdrawn
    /// because another hospital took them) and those it runs.
    pub(crate) async fn jobs_for_hospital(&self, hospital: &Hospital) -> Result<Value> {
        let rows = sqlx::query(
            "SELECT j.id, j.spec, j.state, j.fee_minor, j.currency, j.model_digest, j.hospital_id, o.state AS offer_state, s.name AS sponsor
             FROM job_offers o JOIN jobs j ON j.id = o.job_id JOIN sponsors s ON s.id = j.sponsor_id
             WHERE o.hospital_id = $1 AND o.state <> 'withdrawn' ORDER BY j.id",
        )
        .bind(&hospital.id)
        .fetch_all(self.pool())
        .await?;
        let mut jobs = Vec::new();
        for r in rows {
            let offer_state = get_str(&r, "offer_state")?;
            let job_state = get_str(&r, "state")?;
            // A hospital that declined sees its own decision, not the job's fate elsewhere.
            let state = if offer_state == "declined" {
                "declined".to_string()
            } else {
                job_state
            };
            let fee = get_i64(&r, "fee_minor")?;
            jobs.push(json!({
                "id": get_str(&r, "id")?,
                "state": state,
                "sponsor": get_str(&r, "sponsor")?,
                "fee_minor": fee,
                "hospital_share_minor": split_fee(fee).0,
                "currency": get_str(&r, "currency")?,
                "model_digest": get_str(&r, "model_digest")?,
                "spec": serde_json::from_str::<Value>(&get_str(&r, "spec")?).unwrap_or(Value::Null),
            }));
        }
        Ok(json!({"hospital": hospital.name, "jobs": jobs}))
    }

    /// Applies a state change reported by a hospital's appliance.
    pub(crate) async fn hospital_report(
        &self,
        hospital: &Hospital,
        job_id: &str,
        report: Report,
        idem_key: &str,
    ) -> Result<Reply> {
        let request_hash = protocol::sha256_hex(format!("{job_id}:{report:?}").as_bytes());
        let scope = format!("hospital:{}", hospital.id);
        let actor = format!("hospital:{}", hospital.name);
        let mut tx = self.pool().begin().await?;
        if let Some(reply) = replay(&mut tx, &scope, idem_key, &request_hash).await? {
            return Ok(reply);
        }
        let offer =
            sqlx::query("SELECT state FROM job_offers WHERE job_id = $1 AND hospital_id = $2")
                .bind(job_id)
                .bind(&hospital.id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| get_str(&r, "state"))
                .transpose()?;
        let job = load_job(&mut tx, job_id).await?;
        let (Some(offer), Some(job)) = (offer, job) else {
            return Err(HubError::NotFound(format!("job {job_id}")));
        };
        if offer == "withdrawn" {
            return Err(HubError::NotFound(format!("job {job_id}")));
        }
        let runs_here = job.hospital_id.as_deref() == Some(hospital.id.as_str());
        let conflict = |what: &str| {
            HubError::Conflict(format!("job {job_id} is {}; cannot {what}", job.state))
        };
        let new_state = match &report {
            Report::Accept => {
                let overdue = job
                    .deadline
                    .as_deref()
                    .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
                    .is_some_and(|d| d.timestamp() < now());
                if overdue {
                    return Err(HubError::Conflict(format!(
                        "job {job_id} is past its deadline ({}); it can no longer be accepted",
                        job.deadline.as_deref().unwrap_or("")
                    )));
                }
                if offer != "offered"
                    || !set_state(
                        &mut tx,
                        job_id,
                        &[state::OFFERED],
                        state::ACCEPTED,
                        &actor,
                        json!({}),
                    )
                    .await?
                {
                    return Err(conflict("accept it"));
                }
                sqlx::query("UPDATE jobs SET hospital_id = $1 WHERE id = $2")
                    .bind(&hospital.id)
                    .bind(job_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE job_offers SET state = CASE WHEN hospital_id = $1 THEN 'accepted' ELSE 'withdrawn' END WHERE job_id = $2")
                    .bind(&hospital.id)
                    .bind(job_id)
                    .execute(&mut *tx)
                    .await?;
                state::ACCEPTED.to_string()
            }
            Report::Decline { reason } => {
                if offer != "offered" || job.state != state::OFFERED {
                    return Err(conflict("decline it"));
                }
                sqlx::query("UPDATE job_offers SET state = 'declined' WHERE job_id = $1 AND hospital_id = $2")
                    .bind(job_id)
                    .bind(&hospital.id)
                    .execute(&mut *tx)
                    .await?;
                audit(
                    &mut tx,
                    &actor,
                    "job.offer-declined",
                    job_id,
                    json!({"reason": reason}),
                )
                .await?;
                let open: i64 = sqlx::query(
                    "SELECT COUNT(*) AS n FROM job_offers WHERE job_id = $1 AND state = 'offered'",
                )
                .bind(job_id)
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
                if open == 0
                    && set_state(
                        &mut tx,
                        job_id,
                        &[state::OFFERED],
                        state::DECLINED,
                        &actor,
                        json!({"reason": reason}),
                    )
                    .await?
                {
                    refund(&mut tx, job_id, &job, "refund-declined").await?;
                }
                "declined".to_string()
            }
            Report::Start => {
                if !runs_here
                    || !set_state(
                        &mut tx,
                        job_id,
                        &[state::ACCEPTED],
                        state::RUNNING,
                        &actor,
                        json!({}),
                    )
                    .await?
                {
                    return Err(conflict("start it"));
                }
                state::RUNNING.to_string()
            }
            Report::Fail { reason } | Report::RefusedByGate { reason } => {
                let (to, from): (&str, &[&str]) = if matches!(report, Report::Fail { .. }) {
                    (state::FAILED, &[state::ACCEPTED, state::RUNNING])
                } else {
                    (state::REFUSED_BY_GATE, &[state::RUNNING])
                };
                if !runs_here
                    || !set_state(&mut tx, job_id, from, to, &actor, json!({"reason": reason}))
                        .await?
                {
                    return Err(conflict("mark it failed or refused"));
                }
                sqlx::query("UPDATE jobs SET detail = $1 WHERE id = $2")
                    .bind(reason)
                    .bind(job_id)
                    .execute(&mut *tx)
                    .await?;
                refund(&mut tx, job_id, &job, &format!("refund-{to}")).await?;
                to.to_string()
            }
        };
        let reply = (200, json!({"job_id": job_id, "state": new_state}));
        remember(&mut tx, &scope, idem_key, &request_hash, &reply).await?;
        tx.commit().await?;
        Ok(reply)
    }

    /// Delivers a bundle: the job must be running at this hospital, every
    /// chunk uploaded by it, every file digest must match, and the signature
    /// over the manifest digest must verify against the enrolled key. Then
    /// the job is delivered and the fee split, in one transaction.
    pub(crate) async fn deliver(
        &self,
        hospital: &Hospital,
        job_id: &str,
        manifest: &TransferManifest,
        signature: &str,
        idem_key: &str,
    ) -> Result<Reply> {
        let digest = manifest.digest();
        let request_hash =
            protocol::sha256_hex(format!("{job_id}:deliver:{digest}:{signature}").as_bytes());
        let scope = format!("hospital:{}", hospital.id);
        {
            let mut conn = self.pool().acquire().await?;
            if let Some(reply) = replay(&mut conn, &scope, idem_key, &request_hash).await? {
                return Ok(reply);
            }
        }
        let problems = manifest.check_shape();
        if !problems.is_empty() {
            return Err(HubError::Invalid(format!(
                "bundle manifest: {}",
                problems.join("; ")
            )));
        }
        if !protocol::verify_hex(
            &hospital.public_key,
            &protocol::bundle_signing_message(job_id, &digest),
            signature,
        ) {
            return Err(HubError::Invalid(format!(
                "bundle for job {job_id}: signature does not verify against the enrolled appliance key — refused"
            )));
        }
        // Re-hash every file from the stored chunks (outside the database
        // transaction: this is file I/O).
        let owner = format!("hospital:{}", hospital.id);
        for f in &manifest.files {
            let mut whole = <sha2::Sha256 as sha2::Digest>::new();
            let mut size = 0u64;
            for c in &f.chunks {
                if !self.owns_blob(&owner, c).await? {
                    return Err(HubError::Invalid(format!(
                        "bundle file {}: chunk {c} was not uploaded — upload it first",
                        f.path
                    )));
                }
                let bytes = self.read_blob(c).await?;
                size += bytes.len() as u64;
                sha2::Digest::update(&mut whole, &bytes);
            }
            let got = hex::encode(sha2::Digest::finalize(whole));
            if got != f.sha256 || size != f.size {
                return Err(HubError::Invalid(format!(
                    "bundle file {}: digest or size mismatch (manifest {} / {} bytes, uploaded {got} / {size} bytes) — tampered or corrupted upload refused",
                    f.path, f.sha256, f.size
                )));
            }
        }
        let actor = format!("hospital:{}", hospital.name);
        let mut tx = self.pool().begin().await?;
        if let Some(reply) = replay(&mut tx, &scope, idem_key, &request_hash).await? {
            return Ok(reply);
        }
        let job = load_job(&mut tx, job_id)
            .await?
            .filter(|j| j.hospital_id.as_deref() == Some(hospital.id.as_str()))
            .ok_or_else(|| HubError::NotFound(format!("job {job_id}")))?;
        if !set_state(
            &mut tx,
            job_id,
            &[state::RUNNING],
            state::DELIVERED,
            &actor,
            json!({"bundle_digest": digest}),
        )
        .await?
        {
            return Err(HubError::Conflict(format!(
                "job {job_id} is {}; only a running job can be delivered",
                job.state
            )));
        }
        sqlx::query("INSERT INTO bundles (job_id, digest, manifest, signature, public_key, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(job_id)
            .bind(&digest)
            .bind(serde_json::to_string(manifest).map_err(|e| HubError::Internal(e.to_string()))?)
            .bind(signature)
            .bind(&hospital.public_key)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        for c in manifest.chunk_digests() {
            sqlx::query("INSERT INTO bundle_chunks (job_id, sha256) VALUES ($1, $2)")
                .bind(job_id)
                .bind(&c)
                .execute(&mut *tx)
                .await?;
        }
        let (h, p) = split_fee(job.fee_minor);
        let hospital_account = format!("hospital:{}", hospital.name);
        ledger::post(
            &mut tx,
            job_id,
            "split",
            &job.currency,
            &[
                Leg {
                    account: "escrow",
                    kind: "escrow",
                    amount_minor: -job.fee_minor,
                },
                Leg {
                    account: &hospital_account,
                    kind: "hospital",
                    amount_minor: h,
                },
                Leg {
                    account: "platform",
                    kind: "platform",
                    amount_minor: p,
                },
            ],
        )
        .await?;
        let reply = (
            200,
            json!({"job_id": job_id, "state": state::DELIVERED, "bundle_digest": digest}),
        );
        remember(&mut tx, &scope, idem_key, &request_hash, &reply).await?;
        tx.commit().await?;
        Ok(reply)
    }
}

async fn job_events(conn: &mut AnyConnection, job_id: &str) -> Result<Vec<Value>> {
    sqlx::query("SELECT at, actor, action, detail FROM audit_events WHERE subject = $1 ORDER BY id")
        .bind(job_id)
        .fetch_all(conn)
        .await?
        .iter()
        .map(|r| {
            Ok(json!({
                "at": get_i64(r, "at")?,
                "actor": get_str(r, "actor")?,
                "action": get_str(r, "action")?,
                "detail": serde_json::from_str::<Value>(&get_str(r, "detail")?).unwrap_or(Value::Null),
            }))
        })
        .collect()
}
