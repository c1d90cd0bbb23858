//! The errors of an http call (§9.7).

use super::trace::format_duration;
use super::Response;
use crate::runtime::resilience::TimeLimit;
use std::fmt;
use std::time::Duration;

/// A failed call: what went wrong and how many attempts were made.
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    /// What went wrong (the `http:Error` subtype and its detail).
    pub kind: ErrorKind,
    /// Attempts started by the call, hedges and attempts rejected by the
    /// breaker included; 0 when the call was rejected before its first
    /// attempt (rate limit, bulkhead) or the request was invalid. For
    /// [`ErrorKind::AllTargetsFailed`], the sum over the targets. A retried
    /// call's error is its **last** attempt's (§9.3) with this count.
    pub attempts: u32,
}

/// The kinds of §9.7. Each maps to one `http:Error` subtype
/// ([`ErrorKind::type_name`]); `http:PayloadError` is produced by the
/// language layer when it converts a response body.
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorKind {
    /// Could not connect, connection reset, name resolution failed
    /// (`http:ConnectionError`).
    Connection {
        /// The transport's description, root cause last.
        message: String,
    },
    /// An attempt exceeded `timeout`, or the call its `deadline`
    /// (`http:TimeoutError`).
    Timeout {
        /// Which limit ran out.
        limit: TimeLimit,
    },
    /// The response status was ≥ 400 (`http:StatusError`); the detail's
    /// `status`, `body` and `headers` come from the response.
    Status(Box<Response>),
    /// Rejected by an open or saturated breaker; nothing was sent
    /// (`http:CircuitOpenError`).
    CircuitOpen {
        /// The remaining open time (zero when HALF_OPEN had no free probe
        /// slot).
        retry_after: Duration,
    },
    /// Rejected by the bulkhead; nothing was sent (`http:BulkheadFullError`).
    BulkheadFull {
        /// The bulkhead's limit.
        max_concurrent: u32,
    },
    /// Rejected by the rate limiter; nothing was sent
    /// (`http:RateLimitedError`).
    RateLimited {
        /// When a permit would have been available.
        retry_after: Duration,
    },
    /// Every target of a failover or load balancer failed
    /// (`http:AllTargetsFailedError`).
    AllTargetsFailed {
        /// Each target tried, by name, with its error, in the order tried.
        errors: Vec<(String, CallError)>,
    },
    /// The response body was longer than `maxResponseBytes`
    /// (`http:PayloadError`); the rest of it was not read.
    TooLarge {
        /// The limit in bytes.
        limit: u32,
    },
    /// The request itself is malformed (a header name with a space, a
    /// control character in a header value): a plain `http:Error`, none of
    /// the subtypes. Nothing was sent.
    InvalidRequest {
        /// What is wrong.
        message: String,
    },
}

impl ErrorKind {
    /// The Flow error type: `"http:ConnectionError"`, …, or `"http:Error"`
    /// for an invalid request.
    pub fn type_name(&self) -> &'static str {
        match self {
            ErrorKind::Connection { .. } => "http:ConnectionError",
            ErrorKind::Timeout { .. } => "http:TimeoutError",
            ErrorKind::Status(_) => "http:StatusError",
            ErrorKind::CircuitOpen { .. } => "http:CircuitOpenError",
            ErrorKind::BulkheadFull { .. } => "http:BulkheadFullError",
            ErrorKind::RateLimited { .. } => "http:RateLimitedError",
            ErrorKind::AllTargetsFailed { .. } => "http:AllTargetsFailedError",
            ErrorKind::TooLarge { .. } => "http:PayloadError",
            ErrorKind::InvalidRequest { .. } => "http:Error",
        }
    }

    /// The type name without its module (`"ConnectionError"`), as traced.
    pub fn short_name(&self) -> &'static str {
        let name = self.type_name();
        name.strip_prefix("http:").unwrap_or(name)
    }

    /// Whether a layer refused the call before anything was sent (breaker,
    /// bulkhead, rate limiter).
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            ErrorKind::CircuitOpen { .. }
                | ErrorKind::BulkheadFull { .. }
                | ErrorKind::RateLimited { .. }
        )
    }
}

impl CallError {
    pub(crate) fn new(kind: ErrorKind) -> CallError {
        CallError { kind, attempts: 0 }
    }

    /// The status of a [`ErrorKind::Status`] error.
    pub fn status(&self) -> Option<u16> {
        match &self.kind {
            ErrorKind::Status(r) => Some(r.status),
            _ => None,
        }
    }

    /// The response of a [`ErrorKind::Status`] error.
    pub fn response(&self) -> Option<&Response> {
        match &self.kind {
            ErrorKind::Status(r) => Some(r.as_ref()),
            _ => None,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Connection { message } => write!(f, "connection failed: {message}"),
            ErrorKind::Timeout {
                limit: TimeLimit::Attempt(d),
            } => write!(f, "request timed out after {}", format_duration(*d)),
            ErrorKind::Timeout {
                limit: TimeLimit::Deadline,
            } => f.write_str("deadline exceeded"),
            ErrorKind::Status(r) => match r.reason() {
                Some(reason) => write!(f, "status {} {reason}", r.status),
                None => write!(f, "status {}", r.status),
            },
            ErrorKind::CircuitOpen { retry_after } => write!(
                f,
                "circuit breaker is open; retry after {}",
                format_duration(*retry_after)
            ),
            ErrorKind::BulkheadFull { max_concurrent } => {
                write!(f, "bulkhead full ({max_concurrent} calls in flight)")
            }
            ErrorKind::RateLimited { retry_after } => write!(
                f,
                "rate limited; next permit in {}",
                format_duration(*retry_after)
            ),
            ErrorKind::AllTargetsFailed { errors } => {
                write!(f, "all {} targets failed", errors.len())?;
                for (i, (name, e)) in errors.iter().enumerate() {
                    f.write_str(if i == 0 { ": " } else { "; " })?;
                    write!(f, "{name}: {e}")?;
                }
                Ok(())
            }
            ErrorKind::TooLarge { limit } => write!(
                f,
                "the response body is larger than {limit} bytes (maxResponseBytes)"
            ),
            ErrorKind::InvalidRequest { message } => write!(f, "invalid request: {message}"),
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if self.attempts > 1 && !matches!(self.kind, ErrorKind::AllTargetsFailed { .. }) {
            write!(f, " (after {} attempts)", self.attempts)?;
        }
        Ok(())
    }
}

impl std::error::Error for CallError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_kind_and_the_attempts() {
        let status = CallError {
            kind: ErrorKind::Status(Box::new(Response::new(503, [], Vec::new()))),
            attempts: 3,
        };
        assert_eq!(
            status.to_string(),
            "status 503 Service Unavailable (after 3 attempts)"
        );
        assert_eq!(status.kind.type_name(), "http:StatusError");
        assert_eq!(status.status(), Some(503));
        let open = CallError::new(ErrorKind::CircuitOpen {
            retry_after: Duration::from_millis(1500),
        });
        assert_eq!(
            open.to_string(),
            "circuit breaker is open; retry after 1.5s"
        );
        assert!(open.kind.is_rejection());
        let all = CallError::new(ErrorKind::AllTargetsFailed {
            errors: vec![
                ("a".into(), open.clone()),
                (
                    "b".into(),
                    CallError::new(ErrorKind::Timeout {
                        limit: TimeLimit::Attempt(Duration::from_secs(2)),
                    }),
                ),
            ],
        });
        assert_eq!(
            all.to_string(),
            "all 2 targets failed: a: circuit breaker is open; retry after 1.5s; \
             b: request timed out after 2s"
        );
        assert_eq!(all.kind.short_name(), "AllTargetsFailedError");
    }
}
