//! Appliance-side state of the hub protocol: the enrolment (which hub, which
//! hospital) and the jobs pulled from the hub with their local states. The
//! IG officer's decision is recorded here first (`reported = 0`) and sent to
//! the hub by the agent on its next outbound poll, so deciding never needs an
//! inbound connection or even a reachable hub.

use crate::migrate::Migration;
use crate::{Result, Store, StoreError, Tx};
use rusqlite::{params, OptionalExtension};

pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 500,
    name: "hub enrolment and jobs",
    sql: "
CREATE TABLE hub_enrolment (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    hub_url TEXT NOT NULL,
    hospital TEXT NOT NULL,
    public_key TEXT NOT NULL,
    enrolled_at TEXT NOT NULL
);
CREATE TABLE hub_jobs (
    id TEXT PRIMARY KEY,
    sponsor TEXT NOT NULL,
    spec TEXT NOT NULL,
    model_digest TEXT NOT NULL,
    fee_minor INTEGER NOT NULL,
    hospital_share_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    state TEXT NOT NULL,
    hub_state TEXT NOT NULL,
    reported INTEGER NOT NULL DEFAULT 1,
    decided_by TEXT,
    reason TEXT NOT NULL DEFAULT '',
    bundle_digest TEXT,
    received_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
",
}];

/// This appliance's enrolment with a hub.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HubEnrolment {
    /// Base URL of the hub.
    pub hub_url: String,
    /// The hospital name the hub knows this appliance as.
    pub hospital: String,
    /// The enrolled ed25519 public key (hex).
    pub public_key: String,
    /// When (RFC 3339).
    pub enrolled_at: String,
}

/// A job pulled from the hub, with its local state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HubJob {
    /// Hub job id.
    pub id: String,
    /// Sponsor name.
    pub sponsor: String,
    /// The job spec as JSON (validated by the hub and again by the agent).
    pub spec: String,
    /// Digest of the base model the job uses.
    pub model_digest: String,
    /// Fee in minor units.
    pub fee_minor: i64,
    /// What the hospital receives on delivery, in minor units.
    pub hospital_share_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Local state: offered, accepted, declined, running, delivered, failed,
    /// refused-by-gate, withdrawn.
    pub state: String,
    /// The state last seen on the hub.
    pub hub_state: String,
    /// False while a local decision has not yet been sent to the hub.
    pub reported: bool,
    /// Who accepted or declined it.
    pub decided_by: Option<String>,
    /// Decline or failure reason.
    pub reason: String,
    /// Digest of the delivered bundle manifest.
    pub bundle_digest: Option<String>,
    /// When first pulled (RFC 3339).
    pub received_at: String,
    /// Last local change (RFC 3339).
    pub updated_at: String,
}

/// What the agent saw on the hub for one job.
#[derive(Debug, Clone)]
pub struct PulledJob<'a> {
    /// Hub job id.
    pub id: &'a str,
    /// Sponsor name.
    pub sponsor: &'a str,
    /// Spec JSON.
    pub spec: &'a str,
    /// Base model digest.
    pub model_digest: &'a str,
    /// Fee in minor units.
    pub fee_minor: i64,
    /// Hospital share in minor units.
    pub hospital_share_minor: i64,
    /// ISO 4217 code.
    pub currency: &'a str,
    /// State on the hub.
    pub hub_state: &'a str,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

const JOB_COLUMNS: &str = "id, sponsor, spec, model_digest, fee_minor, hospital_share_minor, currency, state, hub_state, reported, decided_by, reason, bundle_digest, received_at, updated_at";

fn job_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<HubJob> {
    Ok(HubJob {
        id: r.get(0)?,
        sponsor: r.get(1)?,
        spec: r.get(2)?,
        model_digest: r.get(3)?,
        fee_minor: r.get(4)?,
        hospital_share_minor: r.get(5)?,
        currency: r.get(6)?,
        state: r.get(7)?,
        hub_state: r.get(8)?,
        reported: r.get::<_, i64>(9)? != 0,
        decided_by: r.get(10)?,
        reason: r.get(11)?,
        bundle_digest: r.get(12)?,
        received_at: r.get(13)?,
        updated_at: r.get(14)?,
    })
}

fn load(conn: &rusqlite::Connection, id: &str) -> Result<Option<HubJob>> {
    Ok(conn
        .query_row(
            &format!("SELECT {JOB_COLUMNS} FROM hub_jobs WHERE id = ?1"),
            [id],
            job_from_row,
        )
        .optional()?)
}

impl Tx<'_> {
    /// Records (or replaces) the enrolment with a hub.
    pub fn record_enrolment(
        &self,
        actor: &str,
        hub_url: &str,
        hospital: &str,
        public_key: &str,
    ) -> Result<()> {
        self.sql().execute(
            "INSERT INTO hub_enrolment (id, hub_url, hospital, public_key, enrolled_at) VALUES (1, ?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET hub_url = excluded.hub_url, hospital = excluded.hospital,
             public_key = excluded.public_key, enrolled_at = excluded.enrolled_at",
            params![hub_url, hospital, public_key, now()],
        )?;
        self.audit(
            actor,
            "hub.enroll",
            hospital,
            serde_json::json!({"hub": hub_url, "public_key": public_key}),
        )?;
        Ok(())
    }

    /// Records what the hub says about a job. New jobs arrive as `offered`
    /// (or `withdrawn`/terminal if the hub already moved on). A local state
    /// is only overwritten when the hub reports an outcome the appliance
    /// cannot override (another hospital took it, or it ended).
    pub fn sync_pulled_job(&self, actor: &str, job: &PulledJob<'_>) -> Result<HubJob> {
        let existing = load(self.sql(), job.id)?;
        match existing {
            None => {
                let state = if job.hub_state == "offered" {
                    "offered"
                } else {
                    job.hub_state
                };
                self.sql().execute(
                    &format!("INSERT INTO hub_jobs ({JOB_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, NULL, '', NULL, ?10, ?10)"),
                    params![job.id, job.sponsor, job.spec, job.model_digest, job.fee_minor, job.hospital_share_minor, job.currency, state, job.hub_state, now()],
                )?;
                self.audit(actor, "job.received", job.id, serde_json::json!({"sponsor": job.sponsor, "fee_minor": job.fee_minor, "currency": job.currency, "hub_state": job.hub_state}))?;
            }
            Some(local) => {
                let hub_terminal = matches!(
                    job.hub_state,
                    "delivered" | "failed" | "refused-by-gate" | "declined"
                );
                let new_state = if hub_terminal && local.state != job.hub_state && local.reported {
                    job.hub_state.to_string()
                } else {
                    local.state.clone()
                };
                if new_state != local.state || job.hub_state != local.hub_state {
                    self.sql().execute(
                        "UPDATE hub_jobs SET state = ?1, hub_state = ?2, updated_at = ?3 WHERE id = ?4",
                        params![new_state, job.hub_state, now(), job.id],
                    )?;
                    if new_state != local.state {
                        self.audit(
                            actor,
                            &format!("job.{new_state}"),
                            job.id,
                            serde_json::json!({"from": local.state, "source": "hub"}),
                        )?;
                    }
                }
            }
        }
        load(self.sql(), job.id)?
            .ok_or_else(|| StoreError::Invalid(format!("job {} vanished", job.id)))
    }

    /// The IG officer's decision on an offered job, recorded for the agent to
    /// send. Only an `offered` job can be decided.
    pub fn decide_job(&self, actor: &str, id: &str, accept: bool, reason: &str) -> Result<HubJob> {
        let job = load(self.sql(), id)?.ok_or_else(|| StoreError::Invalid(format!("no job {id} on this appliance — run `insitu jobs list` (the agent pulls new jobs on each poll)")))?;
        if job.state != "offered" {
            return Err(StoreError::Invalid(format!(
                "job {id} is {}; only an offered job can be accepted or declined",
                job.state
            )));
        }
        let state = if accept { "accepted" } else { "declined" };
        self.sql().execute(
            "UPDATE hub_jobs SET state = ?1, reported = 0, decided_by = ?2, reason = ?3, updated_at = ?4 WHERE id = ?5",
            params![state, actor, reason, now(), id],
        )?;
        self.audit(actor, &format!("job.{state}"), id, serde_json::json!({"reason": reason, "fee_minor": job.fee_minor, "hospital_share_minor": job.hospital_share_minor, "currency": job.currency}))?;
        load(self.sql(), id)?.ok_or_else(|| StoreError::Invalid(format!("job {id} vanished")))
    }

    /// Staff close an accepted or running job without a bundle: the run
    /// failed, or the gate or an approver refused release. Recorded for the
    /// agent to report (the sponsor is refunded by the hub).
    pub fn close_job(
        &self,
        actor: &str,
        id: &str,
        refused_by_gate: bool,
        reason: &str,
    ) -> Result<HubJob> {
        let job = load(self.sql(), id)?
            .ok_or_else(|| StoreError::Invalid(format!("no job {id} on this appliance")))?;
        if !(job.reported && matches!(job.state.as_str(), "accepted" | "running")) {
            return Err(StoreError::Invalid(format!(
                "job {id} is {}{}; only an accepted or running job the hub knows about can be closed",
                job.state,
                if job.reported { "" } else { " (decision not yet sent — run `insitu agent run --once` first)" }
            )));
        }
        if reason.trim().is_empty() {
            return Err(StoreError::Invalid(
                "give a --reason: the sponsor reads it".into(),
            ));
        }
        let state = if refused_by_gate {
            "refused-by-gate"
        } else {
            "failed"
        };
        self.sql().execute(
            "UPDATE hub_jobs SET state = ?1, reported = 0, reason = ?2, updated_at = ?3 WHERE id = ?4",
            params![state, reason, now(), id],
        )?;
        self.audit(
            actor,
            &format!("job.{state}"),
            id,
            serde_json::json!({"reason": reason, "source": "staff"}),
        )?;
        load(self.sql(), id)?.ok_or_else(|| StoreError::Invalid(format!("job {id} vanished")))
    }

    /// Moves a job to a new local state (agent progress), audited.
    pub fn set_job_state(
        &self,
        actor: &str,
        id: &str,
        state: &str,
        reported: bool,
        reason: &str,
        bundle_digest: Option<&str>,
    ) -> Result<()> {
        let n = self.sql().execute(
            "UPDATE hub_jobs SET state = ?1, reported = ?2, reason = CASE WHEN ?3 = '' THEN reason ELSE ?3 END,
             bundle_digest = COALESCE(?4, bundle_digest), updated_at = ?5 WHERE id = ?6",
            params![state, reported as i64, reason, bundle_digest, now(), id],
        )?;
        if n != 1 {
            return Err(StoreError::Invalid(format!(
                "no job {id} on this appliance"
            )));
        }
        self.audit(actor, &format!("job.{state}"), id, serde_json::json!({"reason": reason, "bundle_digest": bundle_digest, "reported": reported}))?;
        Ok(())
    }
}

impl Store {
    /// The enrolment, if this appliance has enrolled with a hub.
    pub fn hub_enrolment(&self) -> Result<Option<HubEnrolment>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT hub_url, hospital, public_key, enrolled_at FROM hub_enrolment WHERE id = 1",
                [],
                |r| {
                    Ok(HubEnrolment {
                        hub_url: r.get(0)?,
                        hospital: r.get(1)?,
                        public_key: r.get(2)?,
                        enrolled_at: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// Every job pulled from the hub, oldest first.
    pub fn hub_jobs(&self) -> Result<Vec<HubJob>> {
        let mut st = self.conn().prepare(&format!(
            "SELECT {JOB_COLUMNS} FROM hub_jobs ORDER BY received_at, id"
        ))?;
        let rows = st.query_map([], job_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One job by id.
    pub fn hub_job(&self, id: &str) -> Result<Option<HubJob>> {
        load(self.conn(), id)
    }

    /// How many notes and distinct patients a job drawing on `note_kinds`
    /// (empty = every kind) could use: what the IG officer is asked to
    /// release for training. Reads the documents table, read-only.
    pub fn hub_job_data_scope(&self, note_kinds: &[String]) -> Result<(i64, i64)> {
        let (sql, kinds) = if note_kinds.is_empty() {
            (
                "SELECT count(*), count(DISTINCT patient_key) FROM documents".to_string(),
                Vec::new(),
            )
        } else {
            let marks = vec!["?"; note_kinds.len()].join(", ");
            (
                format!("SELECT count(*), count(DISTINCT patient_key) FROM documents WHERE kind IN ({marks})"),
                note_kinds.to_vec(),
            )
        };
        Ok(self
            .conn()
            .query_row(&sql, rusqlite::params_from_iter(kinds.iter()), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pulled<'a>(id: &'a str, hub_state: &'a str) -> PulledJob<'a> {
        PulledJob {
            id,
            sponsor: "acme",
            spec: "{}",
            model_digest: "ab",
            fee_minor: 100,
            hospital_share_minor: 70,
            currency: "GBP",
            hub_state,
        }
    }

    #[test]
    fn decision_is_recorded_then_reported() {
        // No tempfile dev-dependency in this crate: a unique dir under the system temp dir.
        let dir = std::env::temp_dir().join(format!(
            "insitu-store-jobs-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
        ));
        let (mut store, _) = Store::init(&dir).unwrap();
        store
            .tx(|tx| {
                tx.sync_pulled_job("agent", &pulled("job_1", "offered"))
                    .map(|_| ())
            })
            .unwrap();
        let j = store
            .tx(|tx| tx.decide_job("ig", "job_1", true, ""))
            .unwrap();
        assert_eq!((j.state.as_str(), j.reported), ("accepted", false));
        // A second decision is refused: the first one stands.
        assert!(store
            .tx(|tx| tx.decide_job("ig", "job_1", false, "no"))
            .is_err());
        // The hub still says offered until the agent reports: local state kept.
        let j = store
            .tx(|tx| tx.sync_pulled_job("agent", &pulled("job_1", "offered")))
            .unwrap();
        assert_eq!(j.state, "accepted");
        store
            .tx(|tx| tx.set_job_state("agent", "job_1", "accepted", true, "", None))
            .unwrap();
        let j = store
            .tx(|tx| tx.sync_pulled_job("agent", &pulled("job_1", "delivered")))
            .unwrap();
        assert_eq!(j.state, "delivered");
        assert!(store
            .tx(|tx| tx.decide_job("ig", "missing", true, ""))
            .is_err());
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
