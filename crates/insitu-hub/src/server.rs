//! The HTTP API (axum). Sponsors authenticate with a bearer token; appliances
//! sign every request (see `protocol`). Anything a caller may not see answers
//! 404, exactly like something that does not exist.

use crate::db::HubDb;
use crate::error::HubError;
use crate::jobs::Report;
use crate::parties::{Hospital, SignedHeaders, Sponsor};
use crate::protocol::{TransferManifest, CHUNK_SIZE, HEADER_IDEMPOTENCY};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

/// An error answered as `{"error": message}` with the matching status.
struct ApiError(HubError);

impl From<HubError> for ApiError {
    fn from(e: HubError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = %self.0, "request failed");
        }
        (status, Json(json!({"error": self.0.to_string()}))).into_response()
    }
}

type ApiResult<T = Response> = std::result::Result<T, ApiError>;

fn reply((status, body): (u16, Value)) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        Json(body),
    )
        .into_response()
}

fn json_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, HubError> {
    serde_json::from_slice(body).map_err(|e| HubError::Invalid(format!("request body: {e}")))
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, HubError> {
    headers
        .get(HEADER_IDEMPOTENCY)
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty() && k.len() <= 128)
        .map(str::to_string)
        .ok_or_else(|| HubError::Invalid("missing Idempotency-Key header — every mutating request needs one (reuse it when retrying)".into()))
}

async fn sponsor(db: &HubDb, headers: &HeaderMap) -> Result<Sponsor, HubError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| HubError::Unauthorized("missing `Authorization: Bearer TOKEN`".into()))?;
    db.sponsor_by_token(token.trim()).await
}

async fn agent(
    db: &HubDb,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Hospital, HubError> {
    let path = uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or(uri.path());
    db.verify_agent(method.as_str(), path, headers, body).await
}

/// The hub's router over an open database.
pub fn router(db: HubDb) -> Router {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"ok": true})) }))
        .route("/v1/sponsor/chunks/missing", post(sponsor_missing))
        .route("/v1/sponsor/chunks/{sha}", put(sponsor_put_chunk))
        .route("/v1/sponsor/models", post(sponsor_register_model))
        .route("/v1/sponsor/jobs", post(sponsor_post_job))
        .route("/v1/sponsor/jobs/{id}", get(sponsor_job))
        .route("/v1/sponsor/jobs/{id}/bundle", get(sponsor_bundle))
        .route(
            "/v1/sponsor/jobs/{id}/chunks/{sha}",
            get(sponsor_bundle_chunk),
        )
        .route("/v1/agent/enroll", post(agent_enroll))
        .route("/v1/agent/jobs", get(agent_jobs))
        .route("/v1/agent/models/{digest}", get(agent_model))
        .route("/v1/agent/chunks/missing", post(agent_missing))
        .route(
            "/v1/agent/chunks/{sha}",
            get(agent_get_chunk).put(agent_put_chunk),
        )
        .route("/v1/agent/jobs/{id}/deliver", post(agent_deliver))
        .route("/v1/agent/jobs/{id}/{action}", post(agent_report))
        .layer(DefaultBodyLimit::max(CHUNK_SIZE + 1024 * 1024))
        .with_state(db)
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    db: HubDb,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(db))
        .with_graceful_shutdown(shutdown)
        .await
}

#[derive(Deserialize)]
struct ChunkList {
    chunks: Vec<String>,
}

async fn sponsor_missing(State(db): State<HubDb>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let s = sponsor(&db, &headers).await?;
    let list: ChunkList = json_body(&body)?;
    let missing = db
        .missing_chunks(&format!("sponsor:{}", s.id), &list.chunks)
        .await?;
    Ok(Json(json!({"missing": missing})).into_response())
}

async fn sponsor_put_chunk(
    State(db): State<HubDb>,
    Path(sha): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let s = sponsor(&db, &headers).await?;
    db.put_chunk(&format!("sponsor:{}", s.id), &sha, &body)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct RegisterModel {
    name: String,
    manifest: TransferManifest,
}

async fn sponsor_register_model(
    State(db): State<HubDb>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let s = sponsor(&db, &headers).await?;
    let req: RegisterModel = json_body(&body)?;
    Ok(Json(db.register_model(&s, &req.name, &req.manifest).await?).into_response())
}

async fn sponsor_post_job(State(db): State<HubDb>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let s = sponsor(&db, &headers).await?;
    let key = idempotency_key(&headers)?;
    let spec: Value = json_body(&body)?;
    Ok(reply(db.post_job(&s, &spec, &key).await?))
}

async fn sponsor_job(
    State(db): State<HubDb>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let s = sponsor(&db, &headers).await?;
    Ok(Json(db.job_for_sponsor(&s, &id).await?).into_response())
}

async fn sponsor_bundle(
    State(db): State<HubDb>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let s = sponsor(&db, &headers).await?;
    Ok(Json(db.bundle_for_sponsor(&s, &id).await?).into_response())
}

async fn sponsor_bundle_chunk(
    State(db): State<HubDb>,
    Path((id, sha)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    let s = sponsor(&db, &headers).await?;
    Ok(db
        .bundle_chunk_for_sponsor(&s, &id, &sha)
        .await?
        .into_response())
}

#[derive(Deserialize)]
struct Enroll {
    code: String,
    public_key: String,
    appliance_name: String,
}

async fn agent_enroll(
    State(db): State<HubDb>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let req: Enroll = json_body(&body)?;
    // Proof of possession: the request is signed by the key being enrolled.
    let signed = SignedHeaders::from(&headers)?;
    if signed.key != req.public_key {
        return Err(HubError::Unauthorized(
            "enrollment must be signed by the key being enrolled".into(),
        )
        .into());
    }
    signed.check_fresh_and_signed(method.as_str(), uri.path(), &body)?;
    let h = db
        .enroll(&req.code, &req.public_key, &req.appliance_name)
        .await?;
    Ok(Json(json!({"hospital": h.name})).into_response())
}

async fn agent_jobs(
    State(db): State<HubDb>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let h = agent(&db, &method, &uri, &headers, &body).await?;
    Ok(Json(db.jobs_for_hospital(&h).await?).into_response())
}

async fn agent_model(
    State(db): State<HubDb>,
    Path(digest): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let h = agent(&db, &method, &uri, &headers, &body).await?;
    Ok(Json(db.model_for_hospital(&h, &digest).await?).into_response())
}

async fn agent_get_chunk(
    State(db): State<HubDb>,
    Path(sha): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let h = agent(&db, &method, &uri, &headers, &body).await?;
    Ok(db.model_chunk_for_hospital(&h, &sha).await?.into_response())
}

async fn agent_missing(
    State(db): State<HubDb>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let h = agent(&db, &method, &uri, &headers, &body).await?;
    let list: ChunkList = json_body(&body)?;
    let missing = db
        .missing_chunks(&format!("hospital:{}", h.id), &list.chunks)
        .await?;
    Ok(Json(json!({"missing": missing})).into_response())
}

async fn agent_put_chunk(
    State(db): State<HubDb>,
    Path(sha): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let h = agent(&db, &method, &uri, &headers, &body).await?;
    db.put_chunk(&format!("hospital:{}", h.id), &sha, &body)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, Default)]
struct ReportBody {
    #[serde(default)]
    reason: String,
}

async fn agent_report(
    State(db): State<HubDb>,
    Path((id, action)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let h = agent(&db, &method, &uri, &headers, &body).await?;
    let key = idempotency_key(&headers)?;
    let b: ReportBody = if body.is_empty() {
        ReportBody::default()
    } else {
        json_body(&body)?
    };
    let report = match action.as_str() {
        "accept" => Report::Accept,
        "decline" => Report::Decline { reason: b.reason },
        "start" => Report::Start,
        "fail" => Report::Fail { reason: b.reason },
        "refuse" => Report::RefusedByGate { reason: b.reason },
        _ => return Err(HubError::NotFound(format!("action {action:?}")).into()),
    };
    Ok(reply(db.hospital_report(&h, &id, report, &key).await?))
}

#[derive(Deserialize)]
struct Deliver {
    manifest: TransferManifest,
    signature: String,
}

async fn agent_deliver(
    State(db): State<HubDb>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let h = agent(&db, &method, &uri, &headers, &body).await?;
    let key = idempotency_key(&headers)?;
    let d: Deliver = json_body(&body)?;
    Ok(reply(
        db.deliver(&h, &id, &d.manifest, &d.signature, &key).await?,
    ))
}
