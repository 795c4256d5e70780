//! A sponsor job's own release requirements (`job.json` in a run directory,
//! written by the appliance agent when it trains a run for a hub job). The
//! gate applies them on top of the hospital's policy: a job can make release
//! stricter, never looser.

use crate::Error;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// File name inside the run directory.
pub const JOB_FILE: &str = "job.json";

/// What the sponsor's job spec demands before its adapter may leave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRequirements {
    /// Hub job id.
    pub job_id: String,
    /// Sponsor name (for the reports).
    pub sponsor: String,
    /// DP budget the run must have been trained within, or none.
    #[serde(default)]
    pub dp: Option<JobDpBudget>,
    /// Highest membership-inference AUC accepted (worst attack).
    pub max_mia_auc: f64,
    /// Highest canary exposure accepted, in bits (canaries must be measured).
    pub max_canary_exposure: f64,
    /// Most training identifiers the model may regenerate.
    pub max_verbatim_phi: u64,
    /// Highest adapter loss on the test split, if the sponsor set one.
    #[serde(default)]
    pub max_eval_loss: Option<f64>,
}

/// `job.json` → `dp`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct JobDpBudget {
    /// Largest ε.
    pub epsilon: f64,
    /// Largest δ.
    pub delta: f64,
}

impl JobRequirements {
    /// Reads `job.json` from a run directory; `Ok(None)` when the run was not
    /// trained for a job.
    pub fn load(run_dir: &Path) -> Result<Option<JobRequirements>, Error> {
        let path = run_dir.join(JOB_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Io { path, source }),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::BadInput {
                path,
                message: format!(
                    "{e} — job.json is written by `insitu agent run`; rerun the job to rewrite it"
                ),
            })
    }

    /// Writes `job.json` into a run directory (temporary file, then rename).
    pub fn write(&self, run_dir: &Path) -> Result<(), Error> {
        let path = run_dir.join(JOB_FILE);
        let tmp = run_dir.join(format!("{JOB_FILE}.tmp"));
        let text = serde_json::to_string_pretty(self).expect("plain data serialises");
        std::fs::write(&tmp, text).map_err(|source| Error::Io {
            path: tmp.clone(),
            source,
        })?;
        std::fs::rename(&tmp, &path).map_err(|source| Error::Io { path, source })
    }
}
