//! Tracing (§9.8): the events an endpoint reports, the [`TraceSink`] that
//! receives them, and the stderr line format with header redaction.
//!
//! Events are reported synchronously from the calling task; a sink must be
//! quick (write a line, push to a vector) and must not call back into the
//! endpoint.

use crate::runtime::resilience::State;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A response with this status arrived.
    Status(u16),
    /// No response: the error type's short name (`"ConnectionError"`,
    /// `"TimeoutError"`).
    Error(&'static str),
    /// Dropped before it finished (a hedge that lost, a deadline).
    Cancelled,
}

/// Which layer refused a call or an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// An open or saturated circuit breaker.
    CircuitOpen,
    /// A full bulkhead.
    BulkheadFull,
    /// The rate limiter.
    RateLimited,
}

impl Rejection {
    /// The error type's short name.
    pub fn short_name(self) -> &'static str {
        match self {
            Rejection::CircuitOpen => "CircuitOpenError",
            Rejection::BulkheadFull => "BulkheadFullError",
            Rejection::RateLimited => "RateLimitedError",
        }
    }
}

/// One traced event (§9.8).
#[derive(Debug, Clone, PartialEq)]
pub enum TraceEvent {
    /// An attempt finished (or was cancelled).
    Attempt {
        /// The endpoint's name.
        endpoint: String,
        /// The method.
        method: String,
        /// The request's path (without query).
        path: String,
        /// The attempt number within the call (1 for the first).
        attempt: u32,
        /// How it ended.
        outcome: AttemptOutcome,
        /// Time from sending to the outcome.
        elapsed: Duration,
        /// The headers sent (unredacted: the formatter redacts).
        headers: Vec<(String, String)>,
    },
    /// A retry will be sent after `wait`.
    RetryScheduled {
        /// The endpoint's name.
        endpoint: String,
        /// The method.
        method: String,
        /// The request's path.
        path: String,
        /// The attempt that failed.
        attempt: u32,
        /// The wait before the next attempt.
        wait: Duration,
        /// Whether the wait is the server's `Retry-After`.
        from_server: bool,
    },
    /// The endpoint's circuit breaker changed state.
    BreakerTransition {
        /// The endpoint's name.
        endpoint: String,
        /// The state left.
        from: State,
        /// The state entered.
        to: State,
    },
    /// A layer refused the call (or, for the breaker, one attempt).
    Rejected {
        /// The endpoint's name.
        endpoint: String,
        /// The method.
        method: String,
        /// The request's path.
        path: String,
        /// The layer that refused it.
        by: Rejection,
    },
    /// A failover or load balancer moves on to its next target.
    Failover {
        /// The target that failed.
        from: String,
        /// The target tried next.
        to: String,
        /// The failed target's error type (short name).
        error: &'static str,
    },
    /// A compensation of a transaction was run (§12): after its call
    /// (whose attempts are traced as usual).
    Compensation {
        /// The endpoint's name.
        endpoint: String,
        /// The method.
        method: String,
        /// The request's path.
        path: String,
        /// The transaction's id.
        tx: String,
        /// The compensation's number in the transaction.
        n: u32,
        /// `None` when it completed, else why not.
        error: Option<String>,
    },
    /// A hedged attempt was sent because no response came within the delay.
    HedgeSent {
        /// The endpoint's name.
        endpoint: String,
        /// The method.
        method: String,
        /// The request's path.
        path: String,
        /// The new attempt's number.
        attempt: u32,
        /// Time since the call's first attempt was sent.
        after: Duration,
    },
}

/// Receives trace events (`--trace`, or the embedding API's trace hook).
pub trait TraceSink: Send + Sync {
    /// Handles one event.
    fn event(&self, event: &TraceEvent);
}

/// Which header values are printed as `***`: `authorization`, `cookie`,
/// `x-api-key` and any configured extra names (case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redactor {
    names: HashSet<String>,
}

impl Default for Redactor {
    fn default() -> Self {
        Redactor {
            names: ["authorization", "cookie", "x-api-key"]
                .map(str::to_string)
                .into(),
        }
    }
}

impl Redactor {
    /// The default names plus `extra`.
    pub fn with_extra<S: AsRef<str>>(extra: impl IntoIterator<Item = S>) -> Redactor {
        let mut r = Redactor::default();
        r.names
            .extend(extra.into_iter().map(|s| s.as_ref().to_ascii_lowercase()));
        r
    }

    /// Whether the values of header `name` are hidden.
    pub fn hides(&self, name: &str) -> bool {
        self.names.contains(&name.to_ascii_lowercase())
    }

    /// `value`, or `***` when header `name` is hidden.
    pub fn redact<'a>(&self, name: &str, value: &'a str) -> &'a str {
        if self.hides(name) {
            "***"
        } else {
            value
        }
    }
}

/// A duration the way Flow prints it: `250ms`, `1.5s`, `2m30s`; below a
/// millisecond in `µs`.
pub fn format_duration(d: Duration) -> String {
    let micros = d.as_micros();
    if micros < 1000 {
        return format!("{micros}µs");
    }
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = d.as_secs();
    let frac = ms % 1000;
    let frac = if frac == 0 {
        String::new()
    } else {
        format!(".{frac:03}").trim_end_matches('0').to_string()
    };
    if secs < 60 {
        return format!("{secs}{frac}s");
    }
    let (m, s) = (secs / 60, secs % 60);
    if s == 0 && frac.is_empty() {
        format!("{m}m")
    } else {
        format!("{m}m{s}{frac}s")
    }
}

/// The stderr line for `event` (without the newline), header values
/// redacted by `redactor`:
///
/// ```text
/// trace: http pricing: GET /quote attempt 1 -> 503 in 12ms [authorization: ***]
/// trace: http pricing: GET /quote retry after attempt 1 in 200ms
/// trace: http pricing: breaker CLOSED -> OPEN
/// trace: http pricing: GET /quote rejected: CircuitOpenError
/// trace: http failover: a -> b after StatusError
/// trace: http pricing: GET /quote hedge attempt 2 sent after 50ms
/// ```
pub fn format_event(event: &TraceEvent, redactor: &Redactor) -> String {
    let mut line = String::from("trace: http ");
    // Writing to a String cannot fail.
    let _ = match event {
        TraceEvent::Attempt {
            endpoint,
            method,
            path,
            attempt,
            outcome,
            elapsed,
            headers,
        } => {
            let outcome = match outcome {
                AttemptOutcome::Status(s) => s.to_string(),
                AttemptOutcome::Error(e) => (*e).to_string(),
                AttemptOutcome::Cancelled => "cancelled".to_string(),
            };
            let _ = write!(
                line,
                "{endpoint}: {method} {path} attempt {attempt} -> {outcome} in {}",
                format_duration(*elapsed)
            );
            if !headers.is_empty() {
                line.push_str(" [");
                for (i, (name, value)) in headers.iter().enumerate() {
                    if i > 0 {
                        line.push_str(", ");
                    }
                    let _ = write!(line, "{name}: {}", redactor.redact(name, value));
                }
                line.push(']');
            }
            Ok(())
        }
        TraceEvent::RetryScheduled {
            endpoint,
            method,
            path,
            attempt,
            wait,
            from_server,
        } => write!(
            line,
            "{endpoint}: {method} {path} retry after attempt {attempt} in {}{}",
            format_duration(*wait),
            if *from_server { " (Retry-After)" } else { "" }
        ),
        TraceEvent::BreakerTransition { endpoint, from, to } => {
            write!(line, "{endpoint}: breaker {from} -> {to}")
        }
        TraceEvent::Rejected {
            endpoint,
            method,
            path,
            by,
        } => write!(
            line,
            "{endpoint}: {method} {path} rejected: {}",
            by.short_name()
        ),
        TraceEvent::Failover { from, to, error } => {
            write!(line, "failover: {from} -> {to} after {error}")
        }
        TraceEvent::HedgeSent {
            endpoint,
            method,
            path,
            attempt,
            after,
        } => write!(
            line,
            "{endpoint}: {method} {path} hedge attempt {attempt} sent after {}",
            format_duration(*after)
        ),
        TraceEvent::Compensation {
            endpoint,
            method,
            path,
            tx,
            n,
            error,
        } => write!(
            line,
            "{endpoint}: {method} {path} compensation {n} of transaction {tx} {}",
            match error {
                None => "completed".to_string(),
                Some(e) => format!("failed: {e}"),
            }
        ),
    };
    line
}

/// A sink that writes one formatted line per event to a writer (stderr for
/// `--trace`).
pub struct LineSink<W> {
    writer: Mutex<W>,
    redactor: Redactor,
}

impl LineSink<std::io::Stderr> {
    /// Lines to stderr.
    pub fn stderr(redactor: Redactor) -> LineSink<std::io::Stderr> {
        LineSink::new(std::io::stderr(), redactor)
    }
}

impl<W: Write + Send> LineSink<W> {
    /// Lines to `writer`.
    pub fn new(writer: W, redactor: Redactor) -> LineSink<W> {
        LineSink {
            writer: Mutex::new(writer),
            redactor,
        }
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.writer.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

impl<W: Write + Send> TraceSink for LineSink<W> {
    fn event(&self, event: &TraceEvent) {
        let line = format_event(event, &self.redactor);
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        // Tracing is best effort: a closed stderr must not fail the call.
        let _ = writeln!(w, "{line}");
    }
}

/// A sink that keeps every event (for tests and embeddings that render
/// traces themselves).
#[derive(Debug, Default)]
pub struct Collector {
    events: Mutex<Vec<TraceEvent>>,
}

impl Collector {
    /// An empty collector.
    pub fn new() -> Collector {
        Collector::default()
    }

    /// The events so far, in order.
    pub fn events(&self) -> Vec<TraceEvent> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The events so far as lines, redacted by `redactor`.
    pub fn lines(&self, redactor: &Redactor) -> Vec<String> {
        self.events()
            .iter()
            .map(|e| format_event(e, redactor))
            .collect()
    }
}

impl TraceSink for Collector {
    fn event(&self, event: &TraceEvent) {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_flow() {
        let ms = Duration::from_millis;
        assert_eq!(format_duration(Duration::from_micros(250)), "250µs");
        assert_eq!(format_duration(ms(12)), "12ms");
        assert_eq!(format_duration(ms(1500)), "1.5s");
        assert_eq!(format_duration(ms(2000)), "2s");
        assert_eq!(format_duration(ms(150_000)), "2m30s");
        assert_eq!(format_duration(ms(120_000)), "2m");
    }

    #[test]
    fn attempt_lines_redact_secret_headers() {
        let event = TraceEvent::Attempt {
            endpoint: "pricing".into(),
            method: "GET".into(),
            path: "/quote".into(),
            attempt: 2,
            outcome: AttemptOutcome::Status(503),
            elapsed: Duration::from_millis(12),
            headers: vec![
                ("Authorization".into(), "Bearer s3cret".into()),
                ("cookie".into(), "id=1".into()),
                ("x-api-key".into(), "k".into()),
                ("x-tenant".into(), "acme".into()),
                ("x-request-id".into(), "7".into()),
            ],
        };
        assert_eq!(
            format_event(&event, &Redactor::default()),
            "trace: http pricing: GET /quote attempt 2 -> 503 in 12ms \
             [Authorization: ***, cookie: ***, x-api-key: ***, x-tenant: acme, x-request-id: 7]"
        );
        let line = format_event(&event, &Redactor::with_extra(["X-Tenant"]));
        assert!(line.contains("x-tenant: ***, x-request-id: 7"), "{line}");
    }

    #[test]
    fn line_sink_writes_one_line_per_event() {
        let sink = LineSink::new(Vec::new(), Redactor::default());
        sink.event(&TraceEvent::BreakerTransition {
            endpoint: "a".into(),
            from: State::Closed,
            to: State::Open,
        });
        sink.event(&TraceEvent::Failover {
            from: "a".into(),
            to: "b".into(),
            error: "ConnectionError",
        });
        let text = String::from_utf8(sink.into_inner()).unwrap_or_default();
        assert_eq!(
            text,
            "trace: http a: breaker CLOSED -> OPEN\n\
             trace: http failover: a -> b after ConnectionError\n"
        );
    }
}
