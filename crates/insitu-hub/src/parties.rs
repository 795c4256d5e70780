//! Parties and authentication: sponsors (bearer API tokens, stored only as
//! sha256 hashes), hospitals (one-time enrollment codes, then an enrolled
//! ed25519 appliance key that signs every request), replay protection.

use crate::db::{audit, get_str, new_id, now, random_hex, HubDb};
use crate::error::{HubError, Result};
use crate::protocol::{self, sha256_hex, MAX_CLOCK_SKEW_SECS};
use sqlx::Row;

/// An authenticated sponsor.
#[derive(Debug, Clone)]
pub(crate) struct Sponsor {
    pub id: String,
    pub name: String,
}

/// An authenticated hospital (its enrolled appliance signed the request).
#[derive(Debug, Clone)]
pub(crate) struct Hospital {
    pub id: String,
    pub name: String,
    pub public_key: String,
}

fn check_party_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(HubError::Invalid(format!(
            "party name {name:?}: use 1–64 characters from a-z, 0-9, '-', '_'"
        )))
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl HubDb {
    /// Registers a sponsor and returns its API token. Only the token's hash
    /// is stored: a lost token cannot be recovered, only replaced.
    pub async fn add_sponsor(&self, name: &str, actor: &str) -> Result<String> {
        check_party_name(name)?;
        let token = format!("isk_{}", random_hex(32));
        let id = new_id("sp");
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO sponsors (id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(name)
        .bind(sha256_hex(token.as_bytes()))
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                HubError::Conflict(format!(
                    "a sponsor named {name:?} already exists — pick another name"
                ))
            } else {
                e.into()
            }
        })?;
        audit(
            &mut tx,
            actor,
            "sponsor.add",
            &id,
            serde_json::json!({"name": name}),
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    /// Registers a hospital and returns its one-time enrollment code (stored
    /// as a hash, consumed by the first successful `agent enroll`).
    pub async fn add_hospital(&self, name: &str, actor: &str) -> Result<String> {
        check_party_name(name)?;
        let code = format!("enr_{}", random_hex(16));
        let id = new_id("ho");
        let mut tx = self.pool().begin().await?;
        sqlx::query("INSERT INTO hospitals (id, name, enroll_code_hash, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&id)
            .bind(name)
            .bind(sha256_hex(code.as_bytes()))
            .bind(now())
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    HubError::Conflict(format!("a hospital named {name:?} already exists — pick another name"))
                } else {
                    e.into()
                }
            })?;
        audit(
            &mut tx,
            actor,
            "hospital.add",
            &id,
            serde_json::json!({"name": name}),
        )
        .await?;
        tx.commit().await?;
        Ok(code)
    }

    /// The sponsor holding `token`, or `Unauthorized`.
    pub(crate) async fn sponsor_by_token(&self, token: &str) -> Result<Sponsor> {
        let row = sqlx::query("SELECT id, name FROM sponsors WHERE token_hash = $1")
            .bind(sha256_hex(token.as_bytes()))
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| {
                HubError::Unauthorized(
                    "unknown API token — ask the hub operator for a new one".into(),
                )
            })?;
        Ok(Sponsor {
            id: get_str(&row, "id")?,
            name: get_str(&row, "name")?,
        })
    }

    /// Consumes an enrollment code and binds the appliance key to its
    /// hospital. The caller has already checked that the request was signed
    /// by `public_key` (proof of possession).
    pub(crate) async fn enroll(
        &self,
        code: &str,
        public_key: &str,
        appliance_name: &str,
    ) -> Result<Hospital> {
        if protocol::parse_public_key(public_key).is_none() {
            return Err(HubError::Invalid(
                "public_key: not a hex ed25519 public key".into(),
            ));
        }
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query("SELECT id, name FROM hospitals WHERE enroll_code_hash = $1 AND public_key IS NULL")
            .bind(sha256_hex(code.as_bytes()))
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| {
                HubError::Unauthorized(
                    "enrollment code unknown or already used — ask the hub operator for a new one (`insitu hub admin add-hospital`)".into(),
                )
            })?;
        let id = get_str(&row, "id")?;
        let name = get_str(&row, "name")?;
        let updated = sqlx::query("UPDATE hospitals SET public_key = $1, appliance_name = $2, enrolled_at = $3, enroll_code_hash = NULL WHERE id = $4 AND public_key IS NULL")
            .bind(public_key)
            .bind(appliance_name)
            .bind(now())
            .bind(&id)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    HubError::Conflict("this appliance key is already enrolled for another hospital — one key per hospital".into())
                } else {
                    e.into()
                }
            })?;
        if updated.rows_affected() != 1 {
            return Err(HubError::Unauthorized(
                "enrollment code already used".into(),
            ));
        }
        audit(
            &mut tx,
            &format!("appliance:{appliance_name}"),
            "hospital.enroll",
            &id,
            serde_json::json!({"public_key": public_key}),
        )
        .await?;
        tx.commit().await?;
        Ok(Hospital {
            id,
            name,
            public_key: public_key.to_string(),
        })
    }

    /// Authenticates a signed agent request: known enrolled key, timestamp
    /// within the skew window, valid signature over method, path, body
    /// digest, timestamp and nonce, and a nonce never seen before.
    pub(crate) async fn verify_agent(
        &self,
        method: &str,
        path: &str,
        headers: &axum::http::HeaderMap,
        body: &[u8],
    ) -> Result<Hospital> {
        let signed = SignedHeaders::from(headers)?;
        signed.check_fresh_and_signed(method, path, body)?;
        let row = sqlx::query("SELECT id, name FROM hospitals WHERE public_key = $1")
            .bind(&signed.key)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| {
                HubError::Unauthorized(
                    "this appliance key is not enrolled — run `insitu agent enroll`".into(),
                )
            })?;
        let hospital = Hospital {
            id: get_str(&row, "id")?,
            name: get_str(&row, "name")?,
            public_key: signed.key.clone(),
        };
        let inserted = sqlx::query("INSERT INTO agent_nonces (hospital_id, nonce, seen_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(&hospital.id)
            .bind(&signed.nonce)
            .bind(now())
            .execute(self.pool())
            .await?;
        if inserted.rows_affected() != 1 {
            return Err(HubError::Unauthorized(
                "replayed request (nonce already used) — sign every request with a fresh nonce"
                    .into(),
            ));
        }
        // Nonces older than the skew window can never be accepted again (their
        // timestamps are stale), so they can be forgotten. Prune occasionally.
        if signed.nonce.as_bytes()[0] == b'0' {
            sqlx::query("DELETE FROM agent_nonces WHERE seen_at < $1")
                .bind(now() - 2 * MAX_CLOCK_SKEW_SECS)
                .execute(self.pool())
                .await?;
        }
        Ok(hospital)
    }
}

/// The signature headers of an agent request.
pub(crate) struct SignedHeaders {
    pub key: String,
    pub timestamp: i64,
    pub nonce: String,
    pub signature: String,
}

impl SignedHeaders {
    pub(crate) fn from(headers: &axum::http::HeaderMap) -> Result<SignedHeaders> {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .ok_or_else(|| {
                    HubError::Unauthorized(format!(
                        "missing header {name} — agent requests must be signed"
                    ))
                })
        };
        let timestamp = get(protocol::HEADER_TIMESTAMP)?
            .parse::<i64>()
            .map_err(|_| HubError::Unauthorized("x-insitu-timestamp: not an integer".into()))?;
        let nonce = get(protocol::HEADER_NONCE)?;
        if !(16..=64).contains(&nonce.len()) || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(HubError::Unauthorized(
                "x-insitu-nonce: must be 16–64 hex characters".into(),
            ));
        }
        Ok(SignedHeaders {
            key: get(protocol::HEADER_KEY)?,
            timestamp,
            nonce,
            signature: get(protocol::HEADER_SIGNATURE)?,
        })
    }

    pub(crate) fn check_fresh_and_signed(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<()> {
        let skew = (now() - self.timestamp).abs();
        if skew > MAX_CLOCK_SKEW_SECS {
            return Err(HubError::Unauthorized(format!(
                "stale request: timestamp is {skew} s from the hub's clock (limit {MAX_CLOCK_SKEW_SECS} s) — check the appliance clock (NTP)"
            )));
        }
        let msg = protocol::signing_message(method, path, body, self.timestamp, &self.nonce);
        if !protocol::verify_hex(&self.key, &msg, &self.signature) {
            return Err(HubError::Unauthorized("bad request signature".into()));
        }
        Ok(())
    }
}

/// Loads a hospital's display name and key by id (for job views).
pub(crate) async fn hospital_name(
    conn: &mut sqlx::AnyConnection,
    id: &str,
) -> Result<Option<String>> {
    let row = sqlx::query("SELECT name FROM hospitals WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| r.try_get::<String, _>("name").map_err(HubError::from))
        .transpose()
}
