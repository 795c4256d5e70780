//! The appliance's client: enrolment, polling, model download, state
//! reports and bundle delivery — every request signed by the appliance key.

use crate::error::{AgentError, Result};
use crate::http::{Auth, Body, HubHttp};
use crate::transfer::{self, TransferStats};
use ed25519_dalek::{Signer, SigningKey};
use insitu_hub::protocol::{self, TransferManifest};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// An appliance's outbound connection to a hub.
#[derive(Clone)]
pub struct AgentClient {
    http: HubHttp,
    key: SigningKey,
}

/// A job as the hub shows it to this hospital.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteJob {
    /// Hub job id.
    pub id: String,
    /// State from this hospital's point of view.
    pub state: String,
    /// Sponsor name.
    pub sponsor: String,
    /// Fee in minor units.
    pub fee_minor: i64,
    /// The hospital's 70% share in minor units.
    pub hospital_share_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Base model digest.
    pub model_digest: String,
    /// The job spec (JSON).
    pub spec: Value,
}

impl AgentClient {
    /// A client for `hub_url` signing with the appliance key.
    pub fn new(hub_url: &str, key: SigningKey) -> AgentClient {
        AgentClient {
            http: HubHttp::new(hub_url, Auth::Signed(key.clone())),
            key,
        }
    }

    /// Hex public key of the appliance.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().as_bytes())
    }

    /// Registers this appliance's key with the hub using a one-time code.
    /// Returns the hospital name the hub knows this appliance as.
    pub fn enroll(&self, code: &str, appliance_name: &str) -> Result<String> {
        let body = json!({"code": code, "public_key": self.public_key_hex(), "appliance_name": appliance_name});
        let v = self
            .http
            .json("POST", "/v1/agent/enroll", Body::Json(&body), None)?;
        Ok(v["hospital"].as_str().unwrap_or_default().to_string())
    }

    /// Jobs offered to (or run by) this hospital.
    pub fn jobs(&self) -> Result<Vec<RemoteJob>> {
        let v = self.http.json("GET", "/v1/agent/jobs", Body::Empty, None)?;
        let jobs = v["jobs"].as_array().cloned().unwrap_or_default();
        Ok(jobs
            .into_iter()
            .map(|j| RemoteJob {
                id: j["id"].as_str().unwrap_or_default().to_string(),
                state: j["state"].as_str().unwrap_or_default().to_string(),
                sponsor: j["sponsor"].as_str().unwrap_or_default().to_string(),
                fee_minor: j["fee_minor"].as_i64().unwrap_or(0),
                hospital_share_minor: j["hospital_share_minor"].as_i64().unwrap_or(0),
                currency: j["currency"].as_str().unwrap_or_default().to_string(),
                model_digest: j["model_digest"].as_str().unwrap_or_default().to_string(),
                spec: j["spec"].clone(),
            })
            .collect())
    }

    /// Reports `accept`, `decline`, `start`, `fail` or `refuse` for a job.
    /// The idempotency key is derived from job and action, so a retry after
    /// a lost answer is answered from the hub's record, not applied twice.
    pub fn report(&self, job_id: &str, action: &str, reason: &str) -> Result<Value> {
        self.http.json(
            "POST",
            &format!("/v1/agent/jobs/{job_id}/{action}"),
            Body::Json(&json!({"reason": reason})),
            Some(&format!("{job_id}:{action}")),
        )
    }

    /// Downloads (resumably) and verifies a base model into
    /// `models_dir/<digest>`; an existing copy is re-verified file by file.
    /// Pickle and code files are refused before anything is fetched.
    pub fn fetch_model(&self, digest: &str, models_dir: &Path) -> Result<(PathBuf, TransferStats)> {
        if !protocol::is_sha256_hex(digest) {
            return Err(AgentError::Invalid(format!(
                "model digest {digest:?} is not 64 hex characters"
            )));
        }
        let v = self.http.json(
            "GET",
            &format!("/v1/agent/models/{digest}"),
            Body::Empty,
            None,
        )?;
        let manifest: TransferManifest = serde_json::from_value(v["manifest"].clone())
            .map_err(|e| AgentError::Verify(format!("model {digest}: manifest: {e}")))?;
        if manifest.digest() != digest {
            return Err(AgentError::Verify(format!(
                "model {digest}: the manifest the hub sent hashes to {}",
                manifest.digest()
            )));
        }
        let dest = models_dir.join(digest);
        if dest.exists() {
            verify_tree(&dest, &manifest)?;
            return Ok((dest, TransferStats::default()));
        }
        let staging = models_dir.join(format!(".partial-{digest}"));
        let stats = transfer::download(
            &manifest,
            &dest,
            &staging,
            protocol::model_file_refusal,
            |sha| {
                self.http
                    .send("GET", &format!("/v1/agent/chunks/{sha}"), Body::Empty, None)
            },
        )?;
        Ok((dest, stats))
    }

    /// Uploads a finished bundle directory and asks the hub to mark the job
    /// delivered; the hub re-checks every digest and the signature over the
    /// manifest digest against this appliance's enrolled key.
    pub fn deliver(&self, job_id: &str, bundle_dir: &Path) -> Result<String> {
        let manifest =
            protocol::manifest_of_dir(bundle_dir, |p| protocol::check_relative_path(p).err())
                .map_err(|p| {
                    AgentError::Invalid(format!("{}: {}", bundle_dir.display(), p.join("; ")))
                })?;
        transfer::upload(
            bundle_dir,
            &manifest,
            |all| crate::sponsor::missing(&self.http, "/v1/agent/chunks/missing", all),
            |sha, bytes| {
                self.http
                    .send(
                        "PUT",
                        &format!("/v1/agent/chunks/{sha}"),
                        Body::Bytes(bytes),
                        None,
                    )
                    .map(|_| ())
            },
        )?;
        let digest = manifest.digest();
        let signature = hex::encode(
            self.key
                .sign(&protocol::bundle_signing_message(job_id, &digest))
                .to_bytes(),
        );
        self.deliver_manifest(job_id, &manifest, &signature)?;
        Ok(digest)
    }

    /// Sends the deliver request for an already-uploaded manifest.
    pub fn deliver_manifest(
        &self,
        job_id: &str,
        manifest: &TransferManifest,
        signature: &str,
    ) -> Result<Value> {
        self.http.json(
            "POST",
            &format!("/v1/agent/jobs/{job_id}/deliver"),
            Body::Json(&json!({"manifest": manifest, "signature": signature})),
            Some(&format!("{job_id}:deliver:{}", manifest.digest())),
        )
    }

    /// Uploads one chunk as this appliance (tests and tools).
    pub fn put_chunk(&self, bytes: &[u8]) -> Result<String> {
        let sha = protocol::sha256_hex(bytes);
        self.http.send(
            "PUT",
            &format!("/v1/agent/chunks/{sha}"),
            Body::Bytes(bytes),
            None,
        )?;
        Ok(sha)
    }
}

fn verify_tree(dir: &Path, manifest: &TransferManifest) -> Result<()> {
    for f in &manifest.files {
        let p = dir.join(&f.path);
        let (size, sha, _) = protocol::hash_file(&p).map_err(crate::error::io_err(&p))?;
        if sha != f.sha256 || size != f.size {
            return Err(AgentError::Verify(format!(
                "{}: does not match the model manifest — delete {} and poll again to re-download",
                p.display(),
                dir.display()
            )));
        }
    }
    Ok(())
}
