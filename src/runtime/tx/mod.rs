//! Transactions (§12) independent of Flow values: the durable log
//! ([`log::TxLog`]) and the stored form of a compensation, which must be
//! replayable without the VM that registered it.

pub mod log;

use super::http::{Body, Method, Request};
use serde_json::{json, Value};

/// A compensation as stored in the log: enough to send it again after a
/// restart (the endpoint is found again by name, so its configuration and
/// retry policy apply).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCall {
    /// The endpoint's declared name.
    pub endpoint: String,
    /// The endpoint's URL when it is a single endpoint (used when the
    /// program no longer declares `endpoint`; empty for composites).
    pub base: String,
    /// The request, headers (including `Idempotency-Key`) and body
    /// included.
    pub request: Request,
}

impl StoredCall {
    /// The JSON form written to the log.
    pub fn to_json(&self) -> Value {
        let r = &self.request;
        let pairs = |v: &[(String, String)]| -> Value {
            v.iter()
                .map(|(k, x)| json!([k, x]))
                .collect::<Vec<_>>()
                .into()
        };
        let body = match &r.body {
            None => Value::Null,
            Some(Body::Json(j)) => json!({ "json": j }),
            Some(Body::Text(t)) => json!({ "text": t }),
        };
        json!({
            "endpoint": self.endpoint,
            "base": self.base,
            "method": r.method.as_str(),
            "path": r.path,
            "query": pairs(&r.query),
            "headers": pairs(&r.headers),
            "body": body,
        })
    }

    /// Reads the JSON form back; `Err` names what is wrong.
    pub fn from_json(v: &Value) -> Result<StoredCall, String> {
        let text = |k: &str| -> Result<String, String> {
            v.get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("the stored compensation has no `{k}`"))
        };
        let pairs = |k: &str| -> Vec<(String, String)> {
            v.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|p| {
                            let k = p.get(0)?.as_str()?;
                            let x = p.get(1)?.as_str()?;
                            Some((k.to_string(), x.to_string()))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let method_text = text("method")?;
        let method = Method::from_bytes(method_text.as_bytes())
            .map_err(|_| format!("`{method_text}` is not an HTTP method"))?;
        let mut request = Request::new(method, text("path")?);
        request.query = pairs("query");
        request.headers = pairs("headers");
        request.body = match v.get("body") {
            Some(b) if b.get("json").is_some() => b.get("json").cloned().map(Body::Json),
            Some(b) => b
                .get("text")
                .and_then(Value::as_str)
                .map(|t| Body::Text(t.to_string())),
            None => None,
        };
        Ok(StoredCall {
            endpoint: text("endpoint")?,
            base: text("base").unwrap_or_default(),
            request,
        })
    }

    /// `METHOD path` for messages.
    pub fn describe(&self) -> String {
        format!("{} {}", self.request.method, self.request.path)
    }
}

/// This process's identity in the log: its pid and, on Linux, its start
/// time (so a reused pid is not mistaken for it).
pub fn process_identity() -> String {
    let pid = std::process::id();
    match start_time(pid) {
        Some(t) => format!("{pid}:{t}"),
        None => pid.to_string(),
    }
}

/// Whether the process `owner` ([`process_identity`]) is still running.
/// Only known on Linux; elsewhere every other process counts as gone.
pub fn is_alive(owner: &str) -> bool {
    if owner == process_identity() {
        return true;
    }
    let mut parts = owner.splitn(2, ':');
    let Some(Ok(pid)) = parts.next().map(str::parse::<u32>) else {
        return false;
    };
    match (parts.next(), start_time(pid)) {
        (Some(t), Some(now)) => t == now,
        _ => false,
    }
}

/// Field 22 of `/proc/PID/stat` (clock ticks after boot).
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces: count after its `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_calls_round_trip_through_json() {
        let call = StoredCall {
            endpoint: "payments".into(),
            base: "http://127.0.0.1:9/api".into(),
            request: Request::post("/charges/7/refund", Body::Json(json!({"amount": 42})))
                .header("Idempotency-Key", "t:2")
                .query("fast", "1"),
        };
        let back = StoredCall::from_json(&call.to_json()).expect("parse");
        assert_eq!(back, call);
        let text = StoredCall {
            request: Request::new(Method::DELETE, "/x").body(Body::Text("hi".into())),
            ..call
        };
        assert_eq!(StoredCall::from_json(&text.to_json()).expect("parse"), text);
        assert!(StoredCall::from_json(&json!({"method": "GET"})).is_err());
    }

    #[test]
    fn this_process_is_alive_and_a_made_up_one_is_not() {
        assert!(is_alive(&process_identity()));
        assert!(!is_alive("4000000000:1"));
        assert!(!is_alive("garbage"));
        if cfg!(target_os = "linux") {
            let me = process_identity();
            let (pid, _) = me.split_once(':').expect("pid:start");
            assert!(!is_alive(&format!("{pid}:0")), "a reused pid");
        }
    }
}
