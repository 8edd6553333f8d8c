//! The client's error taxonomy. Every variant names the operation; none carries a secret.

use std::fmt;

/// The error body fields the SDKs read: `error_code`/`error_msg`, else `errorCode`/`errorMsg`,
/// else `code`/`message` (AOM sometimes spells `error_message`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceError {
    pub error_code: Option<String>,
    pub error_msg: Option<String>,
    pub http_code: Option<u16>,
}

impl ServiceError {
    /// Reads an error body; `None` when it is not JSON or names no code and no message.
    pub fn parse(body: &[u8]) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        let text = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| value.get(*k))
                .and_then(|v| match v {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
        };
        let parsed = Self {
            error_code: text(&["error_code", "errorCode", "code"]),
            error_msg: text(&["error_msg", "error_message", "errorMsg", "message"]),
            http_code: text(&["http_code"]).and_then(|c| c.parse().ok()),
        };
        (parsed.error_code.is_some() || parsed.error_msg.is_some()).then_some(parsed)
    }
}

/// An HTTP answer outside 2xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    pub operation: &'static str,
    pub status: u16,
    /// The parsed error body, when there is one.
    pub service: Option<ServiceError>,
    /// From the `X-Request-Id` response header: quote it to Huawei support.
    pub request_id: Option<String>,
    /// The body as text when it did not parse as a service error (truncated).
    pub raw_body: Option<String>,
    /// How many attempts were made.
    pub attempts: u32,
    /// Seconds from `Retry-After`, on 429 and 503.
    pub retry_after: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// No connection could be made: the request cannot have reached the server.
    Connect,
    /// No answer in time: the request may or may not have been processed.
    Timeout,
    /// The connection broke after the request was sent, or the answer was unreadable.
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Http(Box<HttpError>),
    #[error("{operation}: {} error after {attempts} attempt(s): {message}{}", transport_kind(*.kind), request_id_suffix(.request_id.as_deref()))]
    Transport {
        operation: &'static str,
        kind: TransportErrorKind,
        message: String,
        attempts: u32,
        /// Set when the answer's headers arrived before the connection broke.
        request_id: Option<String>,
    },
    #[error("{operation}: HTTP {status} answer could not be read as the spec's response ({message}){}; body: {body}", request_id_suffix(.request_id.as_deref()))]
    Decode {
        operation: &'static str,
        status: u16,
        request_id: Option<String>,
        message: String,
        body: String,
    },
    #[error("parameter `{name}`: {message}")]
    InvalidParameter { name: String, message: String },
    #[error("{0}")]
    Config(String),
}

fn transport_kind(kind: TransportErrorKind) -> &'static str {
    match kind {
        TransportErrorKind::Connect => "connection",
        TransportErrorKind::Timeout => "timeout",
        TransportErrorKind::Other => "transport",
    }
}

fn request_id_suffix(request_id: Option<&str>) -> String {
    request_id
        .map(|id| format!(" (request id {id})"))
        .unwrap_or_default()
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: HTTP {}", self.operation, self.status)?;
        if let Some(service) = &self.service {
            if let Some(code) = &service.error_code {
                write!(f, " {code}")?;
            }
            if let Some(message) = &service.error_msg {
                write!(f, " \"{message}\"")?;
            }
        } else if let Some(body) = &self.raw_body {
            write!(f, " (body: {body})")?;
        }
        write!(f, "{}", request_id_suffix(self.request_id.as_deref()))?;
        if self.attempts > 1 {
            write!(f, " after {} attempts", self.attempts)?;
        }
        Ok(())
    }
}

impl ApiError {
    /// Whether the same request could succeed if sent again later: 429, 5xx, a connection
    /// that could not be made, or a timeout. (Whether it is *safe* to resend depends on the
    /// operation; the transport only resends what cannot start anything twice.)
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Http(http) => http.status == 429 || passing_server_failure(http.status),
            Self::Transport { kind, .. } => {
                matches!(
                    kind,
                    TransportErrorKind::Connect | TransportErrorKind::Timeout
                )
            }
            Self::Decode { .. } | Self::InvalidParameter { .. } | Self::Config(_) => false,
        }
    }

    /// Whether the request may have changed something on the server: it reached the service
    /// and no answer proves otherwise (a 5xx, a timeout, a broken connection, or a 2xx that
    /// could not be read). A 4xx (429 included) or a connection never made proves it did not;
    /// so does an error raised before sending.
    pub fn may_have_taken_effect(&self) -> bool {
        match self {
            Self::Http(http) => http.status >= 500 && http.status != NOT_IMPLEMENTED,
            Self::Transport { kind, .. } => *kind != TransportErrorKind::Connect,
            Self::Decode { .. } => true,
            Self::InvalidParameter { .. } | Self::Config(_) => false,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Http(http) => Some(http.status),
            Self::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The service's `error_code`, when the server sent one.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Self::Http(http) => http.service.as_ref()?.error_code.as_deref(),
            _ => None,
        }
    }

    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Http(http) => http.request_id.as_deref(),
            Self::Decode { request_id, .. } | Self::Transport { request_id, .. } => {
                request_id.as_deref()
            }
            _ => None,
        }
    }
}

/// Errors of [`catalogue::invoke`](crate::catalogue::invoke).
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("unknown operation `{0}`; see `catalogue::OPERATIONS` for the ones the spec defines")]
    UnknownOperation(String),
    #[error("{operation}: invalid parameters: {message}")]
    InvalidParams {
        operation: &'static str,
        message: String,
    },
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// 501: the service does not implement the operation. No attempt changes that, and nothing
/// was done.
const NOT_IMPLEMENTED: u16 = 501;

/// A 5xx another attempt may not meet: every server error but 501.
pub(crate) fn passing_server_failure(status: u16) -> bool {
    status >= 500 && status != NOT_IMPLEMENTED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_error_reads_all_sdk_spellings() {
        let aom = ServiceError::parse(
            br#"{"error_code":"AOM.31009004","error_msg":"auth failed.","http_code":401}"#,
        )
        .unwrap();
        assert_eq!(aom.error_code.as_deref(), Some("AOM.31009004"));
        assert_eq!(aom.http_code, Some(401));
        let camel = ServiceError::parse(br#"{"errorCode":"X.1","errorMsg":"m"}"#).unwrap();
        assert_eq!(
            (camel.error_code.as_deref(), camel.error_msg.as_deref()),
            (Some("X.1"), Some("m"))
        );
        let plain = ServiceError::parse(
            br#"{"code":"APIGW.0301","message":"Incorrect IAM authentication information"}"#,
        )
        .unwrap();
        assert_eq!(plain.error_code.as_deref(), Some("APIGW.0301"));
        let spelled =
            ServiceError::parse(br#"{"error_code":"AOM.1","error_message":"x","http_code":"500"}"#)
                .unwrap();
        assert_eq!(
            (spelled.error_msg.as_deref(), spelled.http_code),
            (Some("x"), Some(500))
        );
        assert!(ServiceError::parse(b"<html>").is_none());
        assert!(ServiceError::parse(br#"{"other":1}"#).is_none());
    }
}
