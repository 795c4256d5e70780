//! Blocking HTTP to the hub: bearer-token requests for sponsors, signed
//! requests for appliances. Outbound only.

use crate::error::{AgentError, Result};
use ed25519_dalek::SigningKey;
use insitu_hub::protocol;
use serde_json::Value;

/// How a request is authenticated.
#[derive(Clone)]
pub(crate) enum Auth {
    /// `Authorization: Bearer TOKEN` (sponsors).
    Bearer(String),
    /// ed25519 signature over method, path, body digest, timestamp, nonce.
    Signed(SigningKey),
}

/// A hub base URL plus credentials.
#[derive(Clone)]
pub(crate) struct HubHttp {
    base: String,
    auth: Auth,
    agent: ureq::Agent,
}

/// A response body: JSON or raw bytes.
pub(crate) enum Body<'a> {
    Empty,
    Json(&'a Value),
    Bytes(&'a [u8]),
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub(crate) fn fresh_nonce() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

impl HubHttp {
    pub(crate) fn new(base: &str, auth: Auth) -> HubHttp {
        HubHttp {
            base: base.trim_end_matches('/').to_string(),
            auth,
            agent: ureq::AgentBuilder::new()
                .timeout_connect(std::time::Duration::from_secs(10))
                .timeout(std::time::Duration::from_secs(120))
                .build(),
        }
    }

    /// Sends one request; `idempotency_key` is set on mutating requests.
    pub(crate) fn send(
        &self,
        method: &str,
        path: &str,
        body: Body<'_>,
        idempotency_key: Option<&str>,
    ) -> Result<Vec<u8>> {
        let bytes: Vec<u8> = match body {
            Body::Empty => Vec::new(),
            Body::Json(v) => serde_json::to_vec(v).unwrap_or_default(),
            Body::Bytes(b) => b.to_vec(),
        };
        let url = format!("{}{}", self.base, path);
        let mut req = self.agent.request(method, &url);
        match &self.auth {
            Auth::Bearer(t) => req = req.set("authorization", &format!("Bearer {t}")),
            Auth::Signed(key) => {
                for (name, value) in
                    protocol::sign_request(key, method, path, &bytes, now_secs(), &fresh_nonce())
                {
                    req = req.set(name, &value);
                }
            }
        }
        if let Some(k) = idempotency_key {
            req = req.set(protocol::HEADER_IDEMPOTENCY, k);
        }
        if matches!(body, Body::Json(_)) {
            req = req.set("content-type", "application/json");
        }
        let result = if method == "GET" {
            req.call()
        } else {
            req.send_bytes(&bytes)
        };
        match result {
            Ok(resp) => {
                let mut out = Vec::new();
                std::io::Read::read_to_end(&mut resp.into_reader(), &mut out).map_err(|e| {
                    AgentError::Transport {
                        url: url.clone(),
                        message: e.to_string(),
                    }
                })?;
                Ok(out)
            }
            Err(ureq::Error::Status(status, resp)) => {
                let text = resp.into_string().unwrap_or_default();
                let message = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
                    .unwrap_or(text);
                Err(AgentError::Hub {
                    method: method.to_string(),
                    url,
                    status,
                    message,
                })
            }
            Err(e) => Err(AgentError::Transport {
                url,
                message: e.to_string(),
            }),
        }
    }

    /// Sends and parses a JSON answer.
    pub(crate) fn json(
        &self,
        method: &str,
        path: &str,
        body: Body<'_>,
        idempotency_key: Option<&str>,
    ) -> Result<Value> {
        let bytes = self.send(method, path, body, idempotency_key)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            AgentError::Verify(format!(
                "{method} {path}: the hub's answer is not JSON ({e})"
            ))
        })
    }
}
