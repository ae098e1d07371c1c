//! The routes of Openscoring's REST API, and `/healthz`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{
    DefaultBodyLimit, FromRequest, FromRequestParts, Multipart, Path, Query, Request,
};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};

use crate::config::Config;
use crate::error::{json_response, ApiError};
use crate::evaluate::evaluate;
use crate::models::{valid_id, Deployed, Registry};
use crate::roles::{Role, Roles};

/// What every request handler shares.
pub(crate) struct State {
    pub registry: Registry,
    pub roles: Roles,
    /// The base path, for `Location` headers.
    pub base: String,
    /// What `/metrics` tells.
    pub metrics: crate::metrics::Metrics,
    /// The jobs the server runs (or watches).
    pub jobs: Arc<crate::jobs::Jobs>,
    /// Where relative paths of submitted job files start.
    pub work_dir: std::path::PathBuf,
}

pub(crate) type Shared = Arc<State>;

/// How long a request may take: a client that sends its body slower than this, or a
/// batch that scores longer, gets 408.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// The whole application: the API under the base path, `/healthz` at the root.
pub(crate) fn router(state: Shared, config: &Config) -> Router {
    let api = Router::new()
        .route("/model", get(list))
        .route(
            "/model/{id}",
            get(query).put(deploy).post(evaluate_one).delete(undeploy),
        )
        .route("/model/{id}/pmml", get(download))
        .route("/model/{id}/batch", axum::routing::post(batch))
        .route("/model/{id}/csv", axum::routing::post(csv))
        .route(
            "/model/{id}/jsonl",
            axum::routing::post(jsonl).layer(DefaultBodyLimit::disable()),
        );
    // At most this many requests evaluate at once; the others wait their turn, so that a
    // burst of batches cannot take every thread and all the memory.
    let api = api.layer(tower::limit::GlobalConcurrencyLimitLayer::new(
        4 * std::thread::available_parallelism().map_or(2, |n| n.get()),
    ));
    let app = if state.base == "/" {
        api
    } else {
        Router::new().nest(&state.base, api)
    };
    app.route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .merge(crate::jobs_api::routes())
        .fallback(|| async { ApiError::not_found() })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::measure,
        ))
        .with_state(state)
        .layer(DefaultBodyLimit::max(config.max_body))
        .layer(tower_http::decompression::RequestDecompressionLayer::new())
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(axum::middleware::map_response(crate::error::finish))
        // Answers are compressed when the client accepts it, but for streams whose parts
        // must not wait in a compressor's buffer: events, and JSON lines scored one by one.
        .layer(
            tower_http::compression::CompressionLayer::new().compress_when(
                tower_http::compression::Predicate::and(
                    tower_http::compression::DefaultPredicate::new(),
                    tower_http::compression::predicate::NotForContentType::const_new(
                        "application/x-ndjson",
                    ),
                ),
            ),
        )
}

/// A request with the `user` role (checked before the body is read).
pub(crate) struct AsUser;

/// A request with the `admin` role (checked before the body is read).
pub(crate) struct AsAdmin;

impl FromRequestParts<Shared> for AsUser {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        state.roles.check(parts, Role::User).map(|()| AsUser)
    }
}

impl FromRequestParts<Shared> for AsAdmin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        state.roles.check(parts, Role::Admin).map(|()| AsAdmin)
    }
}

/// The deployed model `id`, or 404.
fn model(state: &State, id: &str) -> Result<Arc<Deployed>, ApiError> {
    if !valid_id(id) {
        return Err(ApiError::not_found());
    }
    state.registry.get(id).ok_or_else(ApiError::not_found)
}

async fn metrics(_: AsUser, axum::extract::State(state): axum::extract::State<Shared>) -> Response {
    let mut response = state.metrics.encode().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

/// The OpenAPI description of the API, its server at the base path.
async fn openapi(axum::extract::State(state): axum::extract::State<Shared>) -> Response {
    let mut spec: Value =
        serde_json::from_str(include_str!("openapi.json")).unwrap_or_else(|_| json!({}));
    spec["servers"] = json!([{ "url": state.base }]);
    json_response(StatusCode::OK, &spec)
}

async fn list(_: AsUser, axum::extract::State(state): axum::extract::State<Shared>) -> Response {
    let all = state.registry.all();
    if all.is_empty() {
        return json_response(StatusCode::OK, &json!({}));
    }
    let responses: Vec<Value> = all.iter().map(|d| d.response(false)).collect();
    json_response(StatusCode::OK, &json!({ "responses": responses }))
}

async fn query(
    _: AsUser,
    axum::extract::State(state): axum::extract::State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let deployed = model(&state, &id)?;
    Ok(json_response(StatusCode::OK, &deployed.response(true)))
}

async fn download(
    _: AsAdmin,
    axum::extract::State(state): axum::extract::State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let deployed = model(&state, &id)?;
    deployed.accessed();
    let mut response = deployed.document.to_string().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=model.pmml.xml"),
    );
    Ok(response)
}

async fn deploy(
    _: AsAdmin,
    axum::extract::State(state): axum::extract::State<Shared>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    request: Request,
) -> Result<Response, ApiError> {
    if !valid_id(&id) {
        return Err(ApiError::not_found());
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/xml")
        .to_ascii_lowercase();
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let document: Bytes = if mime == "multipart/form-data" {
        form_part(request, "pmml").await?
    } else if matches!(mime.as_str(), "application/xml" | "text/xml" | "") {
        Bytes::from_request(request, &())
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text()))?
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "a PMML document is application/xml, text/xml or multipart/form-data, not {mime}"
            ),
        ));
    };
    let text = String::from_utf8(document.to_vec())
        .map_err(|_| ApiError::bad_request("the document is not UTF-8"))?;
    let registry_state = state.clone();
    let deployed_id = id.clone();
    // `?modelName=N`: the model element to score with.
    let model_name = query.get("modelName").cloned();
    let (deployed, new) = tokio::task::spawn_blocking(move || {
        registry_state
            .registry
            .deploy(&deployed_id, &text, model_name.as_deref())
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(ApiError::bad_request)?;
    state.metrics.deployed(state.registry.all().len());
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = json_response(status, &deployed.response(true));
    if new {
        let base = if state.base == "/" {
            ""
        } else {
            state.base.as_str()
        };
        if let Ok(location) = HeaderValue::from_str(&format!("{base}/model/{id}")) {
            response.headers_mut().insert(header::LOCATION, location);
        }
    }
    Ok(response)
}

async fn undeploy(
    _: AsAdmin,
    axum::extract::State(state): axum::extract::State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    model(&state, &id)?;
    let metrics_state = state.clone();
    let removed = tokio::task::spawn_blocking(move || state.registry.undeploy(&id))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    if !removed {
        return Err(ApiError::not_found());
    }
    metrics_state
        .metrics
        .deployed(metrics_state.registry.all().len());
    Ok(json_response(StatusCode::OK, &json!({})))
}

/// A JSON object of a request body, or 400.
fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request("the body is not a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

/// An EvaluationRequest's `id` and `arguments`, or why it is not one.
type RequestParts<'a> = (Option<Value>, &'a Map<String, Value>);

fn request_parts<'a>(
    request: &'a Map<String, Value>,
    empty: &'a Map<String, Value>,
) -> Result<RequestParts<'a>, (Option<Value>, String)> {
    let id = request.get("id").filter(|v| !v.is_null()).cloned();
    match request.get("arguments") {
        None | Some(Value::Null) => Ok((id, empty)),
        Some(Value::Object(a)) => Ok((id, a)),
        Some(_) => Err((id, "\"arguments\" is not a JSON object".into())),
    }
}

/// An EvaluationResponse of `results`.
fn response(id: Option<Value>, results: Map<String, Value>) -> Value {
    let mut out = Map::new();
    if let Some(id) = id {
        out.insert("id".into(), id);
    }
    out.insert("results".into(), Value::Object(results));
    Value::Object(out)
}

/// Scores one EvaluationRequest: the EvaluationResponse, or the failure's message.
fn score_request(
    deployed: &Deployed,
    request: &Map<String, Value>,
    row: &mut styx_pmml::Row,
    scratch: &mut styx_pmml::Scratch,
) -> Result<Value, (Option<Value>, String)> {
    let empty = Map::new();
    let (id, arguments) = request_parts(request, &empty)?;
    match evaluate(&deployed.model, arguments, row, scratch) {
        Ok(results) => Ok(response(id, results)),
        Err(message) => Err((id, message)),
    }
}

/// Scores a BatchEvaluationRequest's requests as one [`styx_pmml::Batch`]: each its
/// EvaluationResponse, or a failure with its message (records are isolated).
fn score_requests(deployed: &Deployed, requests: &[Value]) -> Vec<Value> {
    let model = &deployed.model;
    let empty = Map::new();
    let mut batch = model.new_batch();
    let mut prepared = Vec::with_capacity(requests.len());
    for item in requests {
        let row = batch.push();
        prepared.push(match item {
            Value::Object(r) => {
                request_parts(r, &empty).and_then(
                    |(id, arguments)| match crate::evaluate::fill_row(model, arguments, row) {
                        Ok(()) => Ok(id),
                        Err(message) => Err((id, message)),
                    },
                )
            }
            _ => Err((None, "the request is not a JSON object".into())),
        });
    }
    model.evaluate_batch(&mut batch);
    prepared
        .into_iter()
        .enumerate()
        .map(|(i, p)| match p {
            Err((id, message)) => failure(id, message),
            Ok(id) => match batch.outcome(i) {
                Err(e) => failure(id, e.to_string()),
                Ok(()) => response(
                    id,
                    crate::evaluate::results(model, |col| batch.result(i, col)),
                ),
            },
        })
        .collect()
}

async fn evaluate_one(
    _: AsUser,
    axum::extract::State(state): axum::extract::State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let deployed = model(&state, &id)?;
    let request = json_object(&body)?;
    deployed.accessed();
    let mut row = deployed.model.new_row();
    let mut scratch = deployed.model.scratch();
    match score_request(&deployed, &request, &mut row, &mut scratch) {
        Ok(response) => {
            state.metrics.records(&deployed.id, "ok", 1);
            Ok(json_response(StatusCode::OK, &response))
        }
        Err((_, message)) => {
            state.metrics.records(&deployed.id, "error", 1);
            Err(ApiError::bad_request(message))
        }
    }
}

async fn batch(
    _: AsUser,
    axum::extract::State(state): axum::extract::State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let deployed = model(&state, &id)?;
    let request = json_object(&body)?;
    let requests = match request.get("requests") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err(ApiError::bad_request("\"requests\" is not a JSON array")),
    };
    deployed.accessed();
    let responses = score_requests(&deployed, &requests);
    let failed = responses
        .iter()
        .filter(|r| r.get("message").is_some())
        .count() as u64;
    state
        .metrics
        .records(&deployed.id, "ok", responses.len() as u64 - failed);
    state.metrics.records(&deployed.id, "error", failed);
    let mut out = Map::new();
    if let Some(id) = request.get("id").filter(|v| !v.is_null()) {
        out.insert("id".into(), id.clone());
    }
    out.insert("responses".into(), Value::Array(responses));
    Ok(json_response(StatusCode::OK, &Value::Object(out)))
}

/// The part `name` of a `multipart/form-data` request.
async fn form_part(request: Request, name: &str) -> Result<Bytes, ApiError> {
    let mut parts = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::bad_request(e.body_text()))?;
    while let Some(part) = parts
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(e.body_text()))?
    {
        if part.name() == Some(name) {
            return part
                .bytes()
                .await
                .map_err(|e| ApiError::bad_request(e.body_text()));
        }
    }
    Err(ApiError::bad_request(format!(
        "the form has no part named \"{name}\""
    )))
}

/// The body of a request: the part `name` of a form, or the whole body.
async fn body_or_part(request: Request, name: &str) -> Result<Bytes, ApiError> {
    let form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if form {
        form_part(request, name).await
    } else {
        Bytes::from_request(request, &())
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text()))
    }
}

/// The dialect a CSV request names: `delimiterChar` (one character, or `\t`) and, with
/// it, `quoteChar` (one character, or `\"` / `\'`).
fn dialect(query: &HashMap<String, String>) -> Result<styx_pmml::CsvDialect, ApiError> {
    let one = |name: &str, text: &str| -> Result<u8, ApiError> {
        let unescaped = match text {
            "\\t" => "\t",
            "\\\"" => "\"",
            "\\'" => "'",
            other => other,
        };
        match unescaped.as_bytes() {
            [b] if b.is_ascii() => Ok(*b),
            _ => Err(ApiError::bad_request(format!(
                "{name} must be one character, not {text:?}"
            ))),
        }
    };
    let mut dialect = styx_pmml::CsvDialect::default();
    if let Some(d) = query.get("delimiterChar") {
        dialect.delimiter = Some(one("delimiterChar", d)?);
        if let Some(q) = query.get("quoteChar") {
            dialect.quote = one("quoteChar", q)?;
        }
    }
    Ok(dialect)
}

/// The charset a request's `Content-Type` names (UTF-8 when none).
fn charset(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(';')
                .skip(1)
                .find_map(|p| p.trim().strip_prefix("charset="))
                .map(|c| c.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "UTF-8".to_string())
}

/// Whether `charset` is Latin-1 (ISO-8859-1), whose bytes are the first 256 characters.
fn latin1(charset: &str) -> bool {
    matches!(
        charset.to_ascii_lowercase().as_str(),
        "iso-8859-1" | "latin1" | "iso8859-1" | "us-ascii" | "ascii"
    )
}

async fn csv(
    _: AsUser,
    axum::extract::State(state): axum::extract::State<Shared>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    request: Request,
) -> Result<Response, ApiError> {
    let deployed = model(&state, &id)?;
    let dialect = dialect(&query)?;
    let charset = charset(request.headers());
    let body = body_or_part(request, "csv").await?;
    let text: Vec<u8> = if latin1(&charset) {
        body.iter()
            .map(|&b| b as char)
            .collect::<String>()
            .into_bytes()
    } else if charset.eq_ignore_ascii_case("utf-8") || charset.eq_ignore_ascii_case("utf8") {
        body.to_vec()
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("charset {charset} is not supported (UTF-8 or ISO-8859-1)"),
        ));
    };
    deployed.accessed();
    let mut out = Vec::new();
    let scored = styx_pmml::score_csv_with(&deployed.model, &text[..], &mut out, dialect);
    match &scored {
        Ok(summary) => state.metrics.records(&deployed.id, "ok", summary.rows),
        Err(_) => state.metrics.records(&deployed.id, "error", 1),
    }
    scored.map_err(|e| match e {
        styx_pmml::ScoreError::Row { row, error, .. } => {
            ApiError::bad_request(format!("data row {row}: {error}"))
        }
        other => ApiError::bad_request(other.to_string()),
    })?;
    let out: Vec<u8> = if latin1(&charset) {
        String::from_utf8_lossy(&out)
            .chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
            .collect()
    } else {
        out
    };
    let mut response = out.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&format!("text/plain;charset={charset}"))
            .unwrap_or(HeaderValue::from_static("text/plain;charset=UTF-8")),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=results.csv"),
    );
    Ok(response)
}

/// `X-HTTP-Method-Override` or `?_method=` on a POST: the request is handled as that
/// method (`PUT`, `DELETE` or `GET`); both present and different is a 400.
pub(crate) async fn override_method(mut request: Request) -> Result<Request, Response> {
    if request.method() != axum::http::Method::POST {
        return Ok(request);
    }
    let header = request
        .headers()
        .get("X-HTTP-Method-Override")
        .and_then(|v| v.to_str().ok())
        .map(|m| m.trim().to_ascii_uppercase());
    let query = request.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("_method="))
            .map(str::to_ascii_uppercase)
    });
    let refuse = |message: String| {
        let mut response = ApiError::bad_request(message).into_response();
        response.headers_mut().insert(
            "X-Application",
            HeaderValue::from_static(crate::APPLICATION),
        );
        response
    };
    let method = match (header, query) {
        (Some(h), Some(q)) if h != q => {
            return Err(refuse(format!(
                "X-HTTP-Method-Override says {h} and _method says {q}"
            )))
        }
        (Some(m), _) | (None, Some(m)) => m,
        (None, None) => return Ok(request),
    };
    *request.method_mut() = match method.as_str() {
        "PUT" => axum::http::Method::PUT,
        "DELETE" => axum::http::Method::DELETE,
        "GET" => axum::http::Method::GET,
        "POST" => axum::http::Method::POST,
        other => return Err(refuse(format!("cannot override POST with {other}"))),
    };
    Ok(request)
}

/// `POST /model/{id}/jsonl`: one EvaluationRequest per line in, one EvaluationResponse
/// per line out, in order, streamed both ways (memory does not grow with the body).
/// Records are isolated as in `/batch`; a line that is not a JSON object, or that
/// fails, gives `{"id": ..., "message": "line N: ..."}`.
async fn jsonl(
    _: AsUser,
    axum::extract::State(state): axum::extract::State<Shared>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    use futures_util::StreamExt;

    let deployed = model(&state, &id)?;
    if !deployed.model.info().group_fields.is_empty() {
        return Err(ApiError::bad_request(
            "a model with a group field cannot be evaluated line by line: use /batch",
        ));
    }
    deployed.accessed();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let mut body = request.into_body().into_data_stream();
    tokio::spawn(async move {
        let mut row = deployed.model.new_row();
        let mut scratch = deployed.model.scratch();
        let mut pending: Vec<u8> = Vec::new();
        let mut line_number = 0u64;
        let mut score_line = |line: &[u8], out: &mut Vec<u8>| {
            line_number += 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                return;
            }
            let answer = match serde_json::from_slice::<Value>(line) {
                Ok(Value::Object(r)) => {
                    match score_request(&deployed, &r, &mut row, &mut scratch) {
                        Ok(response) => {
                            state.metrics.records(&deployed.id, "ok", 1);
                            response
                        }
                        Err((id, message)) => {
                            state.metrics.records(&deployed.id, "error", 1);
                            failure(id, format!("line {line_number}: {message}"))
                        }
                    }
                }
                Ok(_) => failure(None, format!("line {line_number}: not a JSON object")),
                Err(e) => failure(None, format!("line {line_number}: not valid JSON: {e}")),
            };
            out.extend_from_slice(answer.to_string().as_bytes());
            out.push(b'\n');
        };
        while let Some(chunk) = body.next().await {
            let Ok(chunk) = chunk else {
                break;
            };
            pending.extend_from_slice(&chunk);
            let mut out = Vec::new();
            let mut start = 0;
            while let Some(end) = pending[start..].iter().position(|b| *b == b'\n') {
                score_line(&pending[start..start + end], &mut out);
                start += end + 1;
            }
            pending.drain(..start);
            if !out.is_empty() && tx.send(Ok(Bytes::from(out))).await.is_err() {
                return;
            }
        }
        let mut out = Vec::new();
        if !pending.is_empty() {
            score_line(&pending, &mut out);
        }
        if !out.is_empty() {
            let _ = tx.send(Ok(Bytes::from(out))).await;
        }
    });
    // Fused: a body may be polled again after it ended (the compression layer does).
    let stream =
        futures_util::StreamExt::fuse(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }));
    let mut response = axum::body::Body::from_stream(stream).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(response)
}

/// A failed record's answer: its id (when there is one) and the message.
fn failure(id: Option<Value>, message: String) -> Value {
    let mut out = Map::new();
    if let Some(id) = id {
        out.insert("id".into(), id);
    }
    out.insert("message".into(), Value::String(message));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_openapi_document_is_json_with_every_path() {
        let spec: serde_json::Value = serde_json::from_str(include_str!("openapi.json")).unwrap();
        for path in [
            "/model",
            "/model/{id}",
            "/model/{id}/pmml",
            "/model/{id}/batch",
            "/model/{id}/csv",
            "/model/{id}/jsonl",
            "/metrics",
            "/healthz",
        ] {
            assert!(spec["paths"][path].is_object(), "{path}");
        }
    }
}
