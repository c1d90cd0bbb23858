//! Requests and responses: plain data, converted to and from Flow values by
//! the language layer (§9.1).

use super::Method;
use std::borrow::Cow;

/// A request body (§9.1): JSON-shaped values are sent as
/// `application/json`, strings as `text/plain`.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// Serialised as JSON, `content-type: application/json`.
    Json(serde_json::Value),
    /// Sent as is, `content-type: text/plain; charset=utf-8`.
    Text(String),
}

impl Body {
    /// The content type sent with this body (unless the request sets its
    /// own `content-type` header).
    pub fn content_type(&self) -> &'static str {
        match self {
            Body::Json(_) => "application/json",
            Body::Text(_) => "text/plain; charset=utf-8",
        }
    }

    /// The bytes sent.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            // Serialising a `serde_json::Value` cannot fail.
            Body::Json(v) => serde_json::to_vec(v).unwrap_or_default(),
            Body::Text(s) => s.as_bytes().to_vec(),
        }
    }
}

/// The headers of `map` as `(name, value)` pairs in order; a value that
/// is not UTF-8 is kept with replacement characters.
pub fn header_pairs(map: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    let mut pairs = Vec::with_capacity(map.len());
    for (name, value) in map {
        // Visible ASCII (almost every value) is copied without the lossy
        // decoder's scan.
        let value = match value.to_str() {
            Ok(text) => text.to_string(),
            Err(_) => String::from_utf8_lossy(value.as_bytes()).into_owned(),
        };
        pairs.push((name.as_str().to_string(), value));
    }
    pairs
}

/// One remote call (`ep->get(path)`, `ep->execute(method, path, body)`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// Appended to the endpoint URL (one `/` between them); may carry its
    /// own `?query`.
    pub path: String,
    /// Query parameters, appended in order (percent-encoded).
    pub query: Vec<(String, String)>,
    /// Headers for this request; one replaces an endpoint header of the
    /// same name.
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<Body>,
    /// Return every response as a [`super::Response`], whatever its status
    /// (the `http:Response` typed result). Otherwise a status ≥ 400 is an
    /// [`super::ErrorKind::Status`] error. Retries, breaker and failover see
    /// the status either way.
    pub raw_status: bool,
}

impl Request {
    /// A request with no query, headers or body.
    pub fn new(method: Method, path: impl Into<String>) -> Request {
        Request {
            method,
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            raw_status: false,
        }
    }

    /// `GET path`.
    pub fn get(path: impl Into<String>) -> Request {
        Request::new(Method::GET, path)
    }

    /// `POST path` with `body`.
    pub fn post(path: impl Into<String>, body: Body) -> Request {
        Request::new(Method::POST, path).body(body)
    }

    /// `PUT path` with `body`.
    pub fn put(path: impl Into<String>, body: Body) -> Request {
        Request::new(Method::PUT, path).body(body)
    }

    /// `DELETE path`.
    pub fn delete(path: impl Into<String>) -> Request {
        Request::new(Method::DELETE, path)
    }

    /// Adds a query parameter.
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Request {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: Body) -> Request {
        self.body = Some(body);
        self
    }

    /// Asks for raw responses (no status is an error).
    pub fn raw(mut self) -> Request {
        self.raw_status = true;
        self
    }
}

/// A response: status, headers (names in lower case, in arrival order) and
/// the whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers, names in lower case; a repeated header appears once per
    /// value. Values that are not UTF-8 are converted lossily.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// Whether the content type is JSON (`application/json` or
    /// `application/*+json`).
    pub fn is_json(&self) -> bool {
        let Some(ct) = self.content_type() else {
            return false;
        };
        let essence = ct.split(';').next().unwrap_or_default().trim();
        let Some((kind, sub)) = essence.split_once('/') else {
            return false;
        };
        let suffix = sub.len().checked_sub(5).and_then(|at| sub.get(at..));
        kind.eq_ignore_ascii_case("application")
            && (sub.eq_ignore_ascii_case("json")
                || suffix.is_some_and(|s| s.eq_ignore_ascii_case("+json")))
    }

    /// The `content-type` header, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The canonical reason phrase of the status (`"Service Unavailable"`).
    pub fn reason(&self) -> Option<&'static str> {
        reqwest::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(content_type: Option<&str>, body: &str) -> Response {
        let mut headers = vec![("x-a".to_string(), "1".to_string())];
        if let Some(ct) = content_type {
            headers.push(("content-type".into(), ct.into()));
        }
        Response {
            status: 200,
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn json_content_types_are_recognised() {
        assert!(response(Some("application/json"), "").is_json());
        assert!(response(Some("Application/JSON; charset=utf-8"), "").is_json());
        assert!(response(Some("application/problem+json"), "").is_json());
        assert!(response(Some("APPLICATION/Vnd.A+JSON"), "").is_json());
        assert!(!response(Some("text/x+json"), "").is_json());
        assert!(!response(Some("application/jsonp"), "").is_json());
        assert!(!response(Some("text/plain"), "").is_json());
        assert!(!response(None, "").is_json());
        let r = response(Some("application/json"), r#"{"a":1}"#);
        assert_eq!(r.json().ok(), Some(serde_json::json!({"a": 1})));
        assert_eq!(r.header("X-A"), Some("1"));
        assert_eq!(r.reason(), Some("OK"));
    }

    #[test]
    fn bodies_carry_their_content_type() {
        let json = Body::Json(serde_json::json!({"k": [1, 2]}));
        assert_eq!(json.content_type(), "application/json");
        assert_eq!(json.to_bytes(), br#"{"k":[1,2]}"#.to_vec());
        let text = Body::Text("hi".into());
        assert_eq!(text.content_type(), "text/plain; charset=utf-8");
        assert_eq!(text.to_bytes(), b"hi".to_vec());
    }

    #[test]
    fn header_pairs_keep_order_repeats_and_non_utf8_values() {
        use reqwest::header::{HeaderMap, HeaderValue};
        let mut map = HeaderMap::new();
        map.append("x-b", HeaderValue::from_static("2"));
        map.append("set-cookie", HeaderValue::from_static("a=1"));
        map.append("set-cookie", HeaderValue::from_static("b=2"));
        map.append("x-name", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        let pairs = header_pairs(&map);
        let pairs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("x-b", "2"),
                ("set-cookie", "a=1"),
                ("set-cookie", "b=2"),
                ("x-name", "caf\u{fffd}"),
            ]
        );
    }
}
