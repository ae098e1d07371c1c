//! Failures as Openscoring answers them: a status and `{"message": "..."}`, nothing else.

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use axum::response::IntoResponse;

/// A failed request.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// An unknown model or path: exactly `Not Found`, as the clients expect.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found")
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        json_response(self.status, &serde_json::json!({ "message": self.message }))
    }
}

/// A JSON body with `Content-Type: application/json` exactly (no charset: the Python
/// client compares the header to that string).
pub(crate) fn json_response(
    status: StatusCode,
    value: &serde_json::Value,
) -> axum::response::Response {
    let mut response = Response::new(Body::from(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Gives every response the `X-Application` header, and every failure that the HTTP
/// stack answered itself (a wrong method, a body over the limit) the JSON error body.
pub(crate) async fn finish(response: axum::response::Response) -> axum::response::Response {
    let mut response = if is_plain_failure(&response) {
        let status = response.status();
        let (parts, body) = response.into_parts();
        let text = axum::body::to_bytes(body, 64 * 1024)
            .await
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .unwrap_or_default();
        let message = match status {
            StatusCode::NOT_FOUND => "Not Found".to_string(),
            _ if text.is_empty() => status.canonical_reason().unwrap_or("Error").to_string(),
            _ => text,
        };
        let mut fixed = json_response(status, &serde_json::json!({ "message": message }));
        if let Some(allow) = parts.headers.get(header::ALLOW) {
            fixed.headers_mut().insert(header::ALLOW, allow.clone());
        }
        fixed
    } else {
        response
    };
    response.headers_mut().insert(
        "X-Application",
        HeaderValue::from_static(crate::APPLICATION),
    );
    response
}

/// A 4xx or 5xx whose body is not our JSON.
fn is_plain_failure(response: &axum::response::Response) -> bool {
    let failed = response.status().is_client_error() || response.status().is_server_error();
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v == "application/json");
    failed && !json
}
