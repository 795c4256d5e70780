//! Training runs: what was trained on what (base model digest, dataset card
//! hash, seed, full config), by whom, the outcome metrics and where the
//! artifacts are. A run is inserted as `running` when it starts and updated
//! to `finished` or `failed`, each with its audit event in the same transaction.

use crate::migrate::Migration;
use crate::{Result, Store, StoreError, Tx};
use rusqlite::OptionalExtension;
use serde::Serialize;

pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 300,
    name: "runs",
    sql: "CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
        base_model_path TEXT NOT NULL,
        base_model_digest TEXT NOT NULL,
        dataset_dir TEXT NOT NULL,
        dataset_card_sha256 TEXT NOT NULL,
        seed INTEGER NOT NULL,
        config TEXT NOT NULL,
        run_dir TEXT NOT NULL,
        started_by TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        metrics TEXT,
        error TEXT
    );",
}];

/// A run as it starts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewRun {
    /// Run id (also the directory name under `runs/`).
    pub id: String,
    /// Base model directory.
    pub base_model_path: String,
    /// sha256 over the base model directory's files.
    pub base_model_digest: String,
    /// Dataset directory.
    pub dataset_dir: String,
    /// sha256 of the dataset's `dataset_card.json`.
    pub dataset_card_sha256: String,
    /// Training seed.
    pub seed: u64,
    /// Full training configuration (JSON).
    pub config: serde_json::Value,
    /// Where checkpoints, metrics and the adapter go.
    pub run_dir: String,
    /// Who started it.
    pub started_by: String,
    /// RFC 3339 start time.
    pub started_at: String,
}

/// A stored run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    /// The run as started.
    #[serde(flatten)]
    pub run: NewRun,
    /// `running`, `finished` or `failed`.
    pub status: String,
    /// RFC 3339 end time.
    pub finished_at: Option<String>,
    /// Outcome metrics (JSON), when finished.
    pub metrics: Option<serde_json::Value>,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Tx<'_> {
    /// Records a starting run (`status = running`) and audits `run.start`.
    pub fn insert_run(&self, actor: &str, run: &NewRun) -> Result<()> {
        let exists: bool = self.sql().query_row(
            "SELECT EXISTS (SELECT 1 FROM runs WHERE id = ?1)",
            [&run.id],
            |r| r.get(0),
        )?;
        if exists {
            return Err(StoreError::Invalid(format!(
                "run {:?} already exists — choose another run id",
                run.id
            )));
        }
        self.sql().execute(
            "INSERT INTO runs (id, status, base_model_path, base_model_digest, dataset_dir, dataset_card_sha256,
                               seed, config, run_dir, started_by, started_at)
             VALUES (?1, 'running', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            rusqlite::params![
                run.id,
                run.base_model_path,
                run.base_model_digest,
                run.dataset_dir,
                run.dataset_card_sha256,
                run.seed as i64,
                serde_json::to_string(&run.config)?,
                run.run_dir,
                run.started_by,
                run.started_at,
            ],
        )?;
        self.audit(
            actor,
            "run.start",
            &format!("run:{}", run.id),
            serde_json::json!({
                "base_model_digest": run.base_model_digest,
                "dataset_card_sha256": run.dataset_card_sha256,
                "seed": run.seed,
            }),
        )?;
        Ok(())
    }

    /// Marks a running run finished with its metrics and audits `run.finish`.
    pub fn finish_run(&self, actor: &str, id: &str, metrics: &serde_json::Value) -> Result<()> {
        self.end_run(actor, id, "finished", Some(metrics), None)
    }

    /// Marks a running run failed with the reason and audits `run.fail`.
    pub fn fail_run(&self, actor: &str, id: &str, error: &str) -> Result<()> {
        self.end_run(actor, id, "failed", None, Some(error))
    }

    fn end_run(
        &self,
        actor: &str,
        id: &str,
        status: &str,
        metrics: Option<&serde_json::Value>,
        error: Option<&str>,
    ) -> Result<()> {
        let metrics_text = metrics.map(serde_json::to_string).transpose()?;
        let changed = self.sql().execute(
            "UPDATE runs SET status = ?2, finished_at = ?3, metrics = ?4, error = ?5 WHERE id = ?1 AND status = 'running'",
            rusqlite::params![id, status, now(), metrics_text, error],
        )?;
        if changed != 1 {
            return Err(StoreError::Invalid(format!(
                "run {id:?} is not running — it is unknown or already ended"
            )));
        }
        let action = if status == "finished" {
            "run.finish"
        } else {
            "run.fail"
        };
        let details = match (metrics, error) {
            (Some(m), _) => serde_json::json!({ "metrics": m }),
            (_, Some(e)) => serde_json::json!({ "error": e }),
            _ => serde_json::json!({}),
        };
        self.audit(actor, action, &format!("run:{id}"), details)?;
        Ok(())
    }
}

/// A row before its JSON columns are parsed (rusqlite's row mapper cannot
/// return serde errors).
struct RawRun {
    record: RunRecord,
    config: String,
    metrics: Option<String>,
}

const RUN_COLUMNS: &str = "id, status, base_model_path, base_model_digest, dataset_dir, dataset_card_sha256, seed, config, run_dir, started_by, started_at, finished_at, metrics, error";

fn raw_run(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRun> {
    Ok(RawRun {
        record: RunRecord {
            run: NewRun {
                id: r.get(0)?,
                base_model_path: r.get(2)?,
                base_model_digest: r.get(3)?,
                dataset_dir: r.get(4)?,
                dataset_card_sha256: r.get(5)?,
                seed: r.get::<_, i64>(6)? as u64,
                config: serde_json::Value::Null,
                run_dir: r.get(8)?,
                started_by: r.get(9)?,
                started_at: r.get(10)?,
            },
            status: r.get(1)?,
            finished_at: r.get(11)?,
            metrics: None,
            error: r.get(13)?,
        },
        config: r.get(7)?,
        metrics: r.get(12)?,
    })
}

impl RawRun {
    fn parse(self) -> Result<RunRecord> {
        let mut rec = self.record;
        rec.run.config = serde_json::from_str(&self.config)?;
        rec.metrics = self.metrics.map(|m| serde_json::from_str(&m)).transpose()?;
        Ok(rec)
    }
}

impl Store {
    /// One run by id.
    pub fn run(&self, id: &str) -> Result<Option<RunRecord>> {
        let row = self
            .conn()
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                [id],
                raw_run,
            )
            .optional()?;
        row.map(RawRun::parse).transpose()
    }

    /// All runs, oldest first.
    pub fn runs(&self) -> Result<Vec<RunRecord>> {
        let mut stmt = self.conn().prepare(&format!(
            "SELECT {RUN_COLUMNS} FROM runs ORDER BY started_at, id"
        ))?;
        let rows = stmt
            .query_map([], raw_run)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(RawRun::parse).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_run(id: &str) -> NewRun {
        NewRun {
            id: id.into(),
            base_model_path: "/models/tiny".into(),
            base_model_digest: "ab".repeat(32),
            dataset_dir: "/data/ds".into(),
            dataset_card_sha256: "cd".repeat(32),
            seed: 7,
            config: serde_json::json!({"lora": {"r": 8}}),
            run_dir: "/runs/r1".into(),
            started_by: "alice".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn a_run_starts_finishes_and_is_audited() {
        let home = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::init(home.path()).unwrap();
        store
            .tx(|tx| tx.insert_run("alice", &new_run("r1")))
            .unwrap();
        assert_eq!(store.run("r1").unwrap().unwrap().status, "running");
        let dup = store.tx(|tx| tx.insert_run("alice", &new_run("r1")));
        assert!(dup.unwrap_err().to_string().contains("already exists"));
        store
            .tx(|tx| tx.finish_run("alice", "r1", &serde_json::json!({"val_loss_after": 1.5})))
            .unwrap();
        let r = store.run("r1").unwrap().unwrap();
        assert_eq!(r.status, "finished");
        assert_eq!(r.metrics.unwrap()["val_loss_after"], 1.5);
        assert_eq!(r.run.config["lora"]["r"], 8);
        // A finished run cannot end again.
        assert!(store.tx(|tx| tx.fail_run("alice", "r1", "late")).is_err());
        let actions: Vec<String> = store
            .audit_events(&Default::default())
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .filter(|a| a.starts_with("run."))
            .collect();
        assert_eq!(actions, ["run.start", "run.finish"]);
        assert_eq!(store.runs().unwrap().len(), 1);
        assert_eq!(store.status().unwrap().runs, 1);
    }
}
