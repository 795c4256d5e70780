//! The sponsor's client: push a base model, post a job, read its state,
//! pull and verify the delivered bundle. Sponsors reach only the hub.

use crate::error::{AgentError, Result};
use crate::http::{Auth, Body, HubHttp};
use crate::transfer::{self, TransferStats};
use insitu_hub::protocol::{self, TransferManifest};
use insitu_hub::JobSpec;
use serde_json::{json, Value};
use std::path::Path;

/// A sponsor's connection to a hub.
pub struct SponsorClient {
    http: HubHttp,
}

/// Result of a model push.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PushedModel {
    /// The model digest (use it as `model.base_digest` in a job spec).
    pub digest: String,
    /// Transfer statistics (chunks already on the hub are not resent).
    pub stats: TransferStats,
}

impl SponsorClient {
    /// A client for `hub_url` using API token `token`.
    pub fn new(hub_url: &str, token: &str) -> SponsorClient {
        SponsorClient {
            http: HubHttp::new(hub_url, Auth::Bearer(token.to_string())),
        }
    }

    /// Uploads a Hugging Face model directory (safetensors, JSON, tokenizer
    /// files only) and registers it. Rerunning after an interruption sends
    /// only the chunks the hub lacks.
    pub fn push_model(&self, dir: &Path, name: &str) -> Result<PushedModel> {
        let manifest =
            protocol::manifest_of_dir(dir, protocol::model_file_refusal).map_err(|problems| {
                AgentError::Invalid(format!(
                    "{}: cannot push this model directory:\n  {}",
                    dir.display(),
                    problems.join("\n  ")
                ))
            })?;
        let stats = transfer::upload(
            dir,
            &manifest,
            |all| missing(&self.http, "/v1/sponsor/chunks/missing", all),
            |sha, bytes| {
                self.http
                    .send(
                        "PUT",
                        &format!("/v1/sponsor/chunks/{sha}"),
                        Body::Bytes(bytes),
                        None,
                    )
                    .map(|_| ())
            },
        )?;
        let v = self.http.json(
            "POST",
            "/v1/sponsor/models",
            Body::Json(&json!({"name": name, "manifest": manifest})),
            None,
        )?;
        let digest = v["digest"].as_str().unwrap_or_default().to_string();
        if digest != manifest.digest() {
            return Err(AgentError::Verify(format!(
                "the hub registered digest {digest}, expected {}",
                manifest.digest()
            )));
        }
        Ok(PushedModel { digest, stats })
    }

    /// Uploads a single chunk (used by resume tests and tools).
    pub fn put_chunk(&self, bytes: &[u8]) -> Result<String> {
        let sha = protocol::sha256_hex(bytes);
        self.http.send(
            "PUT",
            &format!("/v1/sponsor/chunks/{sha}"),
            Body::Bytes(bytes),
            None,
        )?;
        Ok(sha)
    }

    /// Posts a job; `idempotency_key` makes a retry return the first answer
    /// instead of charging again. Returns the job id.
    pub fn post_job(&self, spec: &JobSpec, idempotency_key: &str) -> Result<String> {
        let body = serde_json::to_value(spec).map_err(|e| AgentError::Invalid(e.to_string()))?;
        let v = self.http.json(
            "POST",
            "/v1/sponsor/jobs",
            Body::Json(&body),
            Some(idempotency_key),
        )?;
        v["job_id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| AgentError::Verify("the hub's answer has no job_id".into()))
    }

    /// The job's state as the hub reports it (only for the sponsor's own jobs).
    pub fn job(&self, job_id: &str) -> Result<Value> {
        self.http.json(
            "GET",
            &format!("/v1/sponsor/jobs/{job_id}"),
            Body::Empty,
            None,
        )
    }

    /// Downloads the delivered bundle into `out` (must not exist), verifying
    /// every chunk and file digest, the manifest digest and the appliance's
    /// signature. Resumable via `out`'s sibling staging directory.
    pub fn pull_bundle(&self, job_id: &str, out: &Path) -> Result<(String, TransferStats)> {
        if out.exists()
            && std::fs::read_dir(out)
                .map(|mut d| d.next().is_some())
                .unwrap_or(true)
        {
            return Err(AgentError::Invalid(format!(
                "{}: already exists and is not empty — choose a new --out",
                out.display()
            )));
        }
        let v = self.http.json(
            "GET",
            &format!("/v1/sponsor/jobs/{job_id}/bundle"),
            Body::Empty,
            None,
        )?;
        let manifest: TransferManifest = serde_json::from_value(v["manifest"].clone())
            .map_err(|e| AgentError::Verify(format!("bundle manifest: {e}")))?;
        let digest = manifest.digest();
        if v["digest"].as_str() != Some(digest.as_str()) {
            return Err(AgentError::Verify(format!(
                "bundle manifest digest {digest} does not match the hub's record"
            )));
        }
        let public_key = v["public_key"].as_str().unwrap_or_default();
        let signature = v["signature"].as_str().unwrap_or_default();
        if !protocol::verify_hex(
            public_key,
            &protocol::bundle_signing_message(job_id, &digest),
            signature,
        ) {
            return Err(AgentError::Verify(format!(
                "bundle for job {job_id}: the appliance signature does not verify"
            )));
        }
        if out.exists() {
            std::fs::remove_dir(out).map_err(crate::error::io_err(out))?;
        }
        let staging = out.with_file_name(format!(
            ".{}.partial",
            out.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        let stats = transfer::download(
            &manifest,
            out,
            &staging,
            |p| protocol::check_relative_path(p).err(),
            |sha| {
                self.http.send(
                    "GET",
                    &format!("/v1/sponsor/jobs/{job_id}/chunks/{sha}"),
                    Body::Empty,
                    None,
                )
            },
        )?;
        Ok((digest, stats))
    }
}

pub(crate) fn missing(http: &HubHttp, path: &str, all: &[String]) -> Result<Vec<String>> {
    let v = http.json("POST", path, Body::Json(&json!({"chunks": all})), None)?;
    Ok(v["missing"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}
