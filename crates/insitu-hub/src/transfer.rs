//! Content-addressed transfer: chunks stored once under their sha256, each
//! visible only to the parties entitled to it; model manifests registered
//! after every file digest has been re-checked.

use crate::db::{audit, get_str, now, HubDb};
use crate::error::{HubError, Result};
use crate::parties::{Hospital, Sponsor};
use crate::protocol::{self, TransferManifest, CHUNK_SIZE};
use serde_json::{json, Value};
use sha2::Digest;

impl HubDb {
    /// Stores a chunk uploaded by `owner` after checking its digest. Safe to
    /// repeat: an interrupted upload is resumed by sending the rest.
    pub(crate) async fn put_chunk(&self, owner: &str, sha: &str, bytes: &[u8]) -> Result<()> {
        if !protocol::is_sha256_hex(sha) {
            return Err(HubError::Invalid(format!(
                "chunk name {sha:?} is not a sha256 hex digest"
            )));
        }
        if bytes.len() > CHUNK_SIZE {
            return Err(HubError::Invalid(format!(
                "chunk {sha} is {} bytes; the limit is {CHUNK_SIZE}",
                bytes.len()
            )));
        }
        let got = protocol::sha256_hex(bytes);
        if got != sha {
            return Err(HubError::Invalid(format!(
                "chunk {sha}: body hashes to {got} — corrupted or tampered upload refused"
            )));
        }
        self.write_blob(sha, bytes).await?;
        let mut tx = self.pool().begin().await?;
        sqlx::query("INSERT INTO blobs (sha256, size, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(sha)
            .bind(bytes.len() as i64)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO blob_owners (owner, sha256) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(owner)
        .bind(sha)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether `owner` has uploaded chunk `sha`.
    pub(crate) async fn owns_blob(&self, owner: &str, sha: &str) -> Result<bool> {
        Ok(
            sqlx::query("SELECT 1 AS x FROM blob_owners WHERE owner = $1 AND sha256 = $2")
                .bind(owner)
                .bind(sha)
                .fetch_optional(self.pool())
                .await?
                .is_some(),
        )
    }

    /// Which of `shas` the owner has not uploaded yet (resume point).
    pub(crate) async fn missing_chunks(&self, owner: &str, shas: &[String]) -> Result<Vec<String>> {
        let mut missing = Vec::new();
        for s in shas {
            if !self.owns_blob(owner, s).await? {
                missing.push(s.clone());
            }
        }
        Ok(missing)
    }

    /// Registers a model directory pushed by a sponsor once all its chunks
    /// are uploaded and every file's digest re-checks. Refuses pickle and
    /// code files. Returns the model digest. Idempotent by digest.
    pub(crate) async fn register_model(
        &self,
        sponsor: &Sponsor,
        name: &str,
        manifest: &TransferManifest,
    ) -> Result<Value> {
        let mut problems = manifest.check_shape();
        problems.extend(
            manifest
                .files
                .iter()
                .filter_map(|f| protocol::model_file_refusal(&f.path)),
        );
        if !problems.is_empty() {
            return Err(HubError::Invalid(format!(
                "model {name:?}: {}",
                problems.join("; ")
            )));
        }
        let owner = format!("sponsor:{}", sponsor.id);
        let missing = self
            .missing_chunks(&owner, &manifest.chunk_digests())
            .await?;
        if !missing.is_empty() {
            return Err(HubError::Invalid(format!(
                "model {name:?}: {} chunk(s) not uploaded yet (first: {}) — rerun the push to resume",
                missing.len(),
                missing[0]
            )));
        }
        for f in &manifest.files {
            let mut whole = sha2::Sha256::new();
            for c in &f.chunks {
                whole.update(self.read_blob(c).await?);
            }
            if hex::encode(whole.finalize()) != f.sha256 {
                return Err(HubError::Invalid(format!(
                    "model file {}: chunks do not hash to the file digest {}",
                    f.path, f.sha256
                )));
            }
        }
        let digest = manifest.digest();
        let mut tx = self.pool().begin().await?;
        let inserted = sqlx::query("INSERT INTO models (sponsor_id, digest, name, manifest, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
            .bind(&sponsor.id)
            .bind(&digest)
            .bind(name)
            .bind(serde_json::to_string(manifest).map_err(|e| HubError::Internal(e.to_string()))?)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        if inserted.rows_affected() == 1 {
            for c in manifest.chunk_digests() {
                sqlx::query("INSERT INTO model_chunks (digest, sha256) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(&digest)
                    .bind(&c)
                    .execute(&mut *tx)
                    .await?;
            }
            let size: u64 = manifest.files.iter().map(|f| f.size).sum();
            audit(
                &mut tx,
                &format!("sponsor:{}", sponsor.name),
                "model.push",
                &digest,
                json!({"name": name, "files": manifest.files.len(), "bytes": size}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(json!({"digest": digest, "name": name}))
    }

    /// A model's manifest for a hospital that has been offered (or runs) a
    /// job using it; `NotFound` otherwise.
    pub(crate) async fn model_for_hospital(
        &self,
        hospital: &Hospital,
        digest: &str,
    ) -> Result<Value> {
        let row = sqlx::query(
            "SELECT m.manifest, m.name FROM models m
             WHERE m.digest = $1 AND EXISTS (
               SELECT 1 FROM jobs j JOIN job_offers o ON o.job_id = j.id
               WHERE j.model_digest = m.digest AND j.sponsor_id = m.sponsor_id AND o.hospital_id = $2 AND o.state <> 'withdrawn')",
        )
        .bind(digest)
        .bind(&hospital.id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| HubError::NotFound(format!("model {digest}")))?;
        let manifest: Value =
            serde_json::from_str(&get_str(&row, "manifest")?).unwrap_or(Value::Null);
        Ok(json!({"digest": digest, "name": get_str(&row, "name")?, "manifest": manifest}))
    }

    /// A chunk of a model offered to the hospital; `NotFound` otherwise.
    pub(crate) async fn model_chunk_for_hospital(
        &self,
        hospital: &Hospital,
        sha: &str,
    ) -> Result<Vec<u8>> {
        let allowed = sqlx::query(
            "SELECT 1 AS x FROM model_chunks c JOIN jobs j ON j.model_digest = c.digest JOIN job_offers o ON o.job_id = j.id
             WHERE c.sha256 = $1 AND o.hospital_id = $2 AND o.state <> 'withdrawn'",
        )
        .bind(sha)
        .bind(&hospital.id)
        .fetch_optional(self.pool())
        .await?
        .is_some();
        if !allowed {
            return Err(HubError::NotFound(format!("chunk {sha}")));
        }
        self.read_blob(sha).await
    }

    /// The delivered bundle's manifest and signature for the job's sponsor.
    pub(crate) async fn bundle_for_sponsor(
        &self,
        sponsor: &Sponsor,
        job_id: &str,
    ) -> Result<Value> {
        let row = sqlx::query(
            "SELECT b.digest, b.manifest, b.signature, b.public_key FROM bundles b JOIN jobs j ON j.id = b.job_id
             WHERE b.job_id = $1 AND j.sponsor_id = $2",
        )
        .bind(job_id)
        .bind(&sponsor.id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| HubError::NotFound(format!("bundle for job {job_id}")))?;
        Ok(json!({
            "job_id": job_id,
            "digest": get_str(&row, "digest")?,
            "manifest": serde_json::from_str::<Value>(&get_str(&row, "manifest")?).unwrap_or(Value::Null),
            "signature": get_str(&row, "signature")?,
            "public_key": get_str(&row, "public_key")?,
        }))
    }

    /// A chunk of the job's delivered bundle, for the job's sponsor only.
    pub(crate) async fn bundle_chunk_for_sponsor(
        &self,
        sponsor: &Sponsor,
        job_id: &str,
        sha: &str,
    ) -> Result<Vec<u8>> {
        let allowed = sqlx::query(
            "SELECT 1 AS x FROM bundle_chunks c JOIN jobs j ON j.id = c.job_id WHERE c.job_id = $1 AND c.sha256 = $2 AND j.sponsor_id = $3",
        )
        .bind(job_id)
        .bind(sha)
        .bind(&sponsor.id)
        .fetch_optional(self.pool())
        .await?
        .is_some();
        if !allowed {
            return Err(HubError::NotFound(format!("chunk {sha} of job {job_id}")));
        }
        self.read_blob(sha).await
    }
}
