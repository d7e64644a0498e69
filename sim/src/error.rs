//! Discord's JSON error responses (`{"message", "code", "errors"?}`) with their status codes.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

/// An error as Discord reports it.
#[derive(Debug)]
pub struct DiscordError {
    status: StatusCode,
    body: Value,
}

impl DiscordError {
    fn new(status: StatusCode, code: u32, message: &str) -> Self {
        Self { status, body: json!({"message": message, "code": code}) }
    }

    /// 400 with a prepared body (50035 Invalid Form Body).
    pub fn form(body: Value) -> Self {
        Self { status: StatusCode::BAD_REQUEST, body }
    }

    /// 400 50035 with one message at one field.
    pub fn field(field: &str, code: &str, message: &str) -> Self {
        Self::form(json!({
            "code": 50035,
            "errors": {field: {"_errors": [{"code": code, "message": message}]}},
            "message": "Invalid Form Body"
        }))
    }

    /// 401 Unauthorized.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 0, "401: Unauthorized")
    }

    /// 403 50013 Missing Permissions.
    pub fn missing_permissions() -> Self {
        Self::new(StatusCode::FORBIDDEN, 50013, "Missing Permissions")
    }

    /// 404 with an "Unknown …" code (10004 guild, 10011 role, 10003 channel, …).
    pub fn unknown(code: u32, what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, &format!("Unknown {what}"))
    }

    /// 400 with a max-count code (30005 roles, 30013 channels).
    pub fn maximum(code: u32, message: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 400 40060 Interaction has already been acknowledged.
    pub fn already_acknowledged() -> Self {
        Self::new(StatusCode::BAD_REQUEST, 40060, "Interaction has already been acknowledged.")
    }

    /// 401 50027 Invalid Webhook Token (an expired interaction token).
    pub fn invalid_webhook_token() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 50027, "Invalid Webhook Token")
    }

    /// 400 50109 The request body contains invalid JSON.
    pub fn invalid_json() -> Self {
        Self::new(StatusCode::BAD_REQUEST, 50109, "The request body contains invalid JSON.")
    }

    /// 500, as an injected fault.
    pub fn server_error() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, 0, "500: Internal Server Error")
    }
}

impl IntoResponse for DiscordError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}
