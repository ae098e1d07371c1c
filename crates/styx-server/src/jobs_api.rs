//! The routes of the job API (`/api/jobs`), the live feed of the dashboard
//! (`/api/events`) and the dashboard itself (`/`).

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::stream::Stream;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{AsAdmin, AsUser, Shared};
use crate::error::{json_response, ApiError};
use crate::jobs::JobRequestError;

/// How often the live feed sends what changed.
const FEED_INTERVAL: Duration = Duration::from_secs(1);

/// The job API, the feed and the dashboard, at the server's root.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(dashboard))
        .route("/api/jobs", get(list).post(submit))
        .route("/api/jobs/{id}", get(details).delete(cancel))
        .route("/api/jobs/{id}/graph", get(graph))
        .route("/api/jobs/{id}/checkpoints", get(checkpoints))
        .route("/api/jobs/{id}/stop", post(stop))
        .route("/api/jobs/{id}/savepoints", post(savepoint))
        .route("/api/events", get(events))
}

impl From<JobRequestError> for ApiError {
    fn from(e: JobRequestError) -> Self {
        match e {
            JobRequestError::NotFound => ApiError::not_found(),
            JobRequestError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, message),
        }
    }
}

async fn submit(
    _: AsAdmin,
    State(state): State<Shared>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("the job file is not UTF-8"))?
        .to_string();
    let jobs = state.jobs.clone();
    let base = state.work_dir.clone();
    let job = tokio::task::spawn_blocking(move || jobs.submit(&text, &base))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(ApiError::bad_request)?;
    Ok(json_response(StatusCode::CREATED, &json!({ "id": job.id })))
}

async fn list(_: AsUser, State(state): State<Shared>) -> Response {
    let jobs: Vec<Value> = state.jobs.all().iter().map(|j| j.summary()).collect();
    json_response(StatusCode::OK, &json!({ "jobs": jobs }))
}

async fn details(
    _: AsUser,
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = state.jobs.get(&id).ok_or_else(ApiError::not_found)?;
    Ok(json_response(StatusCode::OK, &job.details()))
}

async fn graph(
    _: AsUser,
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = state.jobs.get(&id).ok_or_else(ApiError::not_found)?;
    Ok(json_response(StatusCode::OK, &job.graph()))
}

async fn checkpoints(
    _: AsUser,
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = state.jobs.get(&id).ok_or_else(ApiError::not_found)?;
    Ok(json_response(StatusCode::OK, &job.details()["checkpoints"]))
}

/// The body of a stop: both default to `false`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct StopRequest {
    savepoint: bool,
    drain: bool,
}

async fn stop(
    _: AsAdmin,
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: StopRequest = if body.iter().all(u8::is_ascii_whitespace) {
        StopRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!(
                "expected {{\"savepoint\": true|false, \"drain\": true|false}}: {e}"
            ))
        })?
    };
    let path = state
        .jobs
        .stop(&id, request.savepoint, request.drain)
        .await?;
    let path = path.map(|p| p.display().to_string());
    Ok(json_response(StatusCode::OK, &json!({ "savepoint": path })))
}

async fn savepoint(
    _: AsAdmin,
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let path = state.jobs.savepoint(&id).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "savepoint": path.display().to_string() }),
    ))
}

async fn cancel(
    _: AsAdmin,
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    state.jobs.cancel(&id).await?;
    Ok(json_response(StatusCode::OK, &json!({})))
}

/// What the dashboard shows: every job with its operators, and what the store holds
/// (models and patterns with their versions, rules). Reads the store: call it off the
/// async threads.
fn overview(state: &Shared) -> Value {
    let jobs: Vec<Value> = state.jobs.all().iter().map(|j| j.details()).collect();
    let models: Vec<Value> = state
        .registry
        .all()
        .iter()
        .map(|d| d.response(false))
        .collect();
    let store = state.registry.store();
    let versions = |list: styx_store::Result<Vec<styx_store::Version>>| -> Value {
        match list {
            Ok(list) => list
                .iter()
                .map(|v| json!({ "id": v.id, "version": v.version, "stored": v.stored_ms }))
                .collect(),
            Err(e) => json!({ "error": e.to_string() }),
        }
    };
    let rules = match store.rules(None) {
        Ok(rules) => serde_json::to_value(rules).unwrap_or_default(),
        Err(e) => json!({ "error": e.to_string() }),
    };
    json!({
        "jobs": jobs,
        "models": models,
        "store": {
            "models": versions(store.models()),
            "patterns": versions(store.patterns()),
            "rules": rules,
        },
    })
}

/// Server-sent events: the overview, once a second.
async fn events(
    _: AsUser,
    State(state): State<Shared>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = futures_util::stream::unfold((state, true), |(state, first)| async move {
        if !first {
            tokio::time::sleep(FEED_INTERVAL).await;
        }
        let reading = state.clone();
        let overview = tokio::task::spawn_blocking(move || overview(&reading))
            .await
            .unwrap_or_else(|e| json!({ "error": e.to_string() }));
        let event = Event::default()
            .event("overview")
            .data(overview.to_string());
        Some((Ok(event), (state, false)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn dashboard() -> Response {
    let mut response = include_str!("dashboard.html").into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}
