//! Requests and responses: plain data, converted to and from Flow values by
//! the language layer (§9.1).

use super::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
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

/// A header value as text; a value that is not UTF-8 is kept with
/// replacement characters.
pub fn header_text(value: &HeaderValue) -> Cow<'_, str> {
    // Visible ASCII (almost every value) is borrowed without the lossy
    // decoder's scan.
    match value.to_str() {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(value.as_bytes()),
    }
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
    /// The headers as received: a repeated header keeps every value, in
    /// arrival order. Kept as the transport's map (no copy per call); read
    /// them with [`Response::header`] or [`header_text`].
    pub headers: HeaderMap,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with `headers` given as `(name, value)` pairs (for
    /// transports other than reqwest's, and tests); a pair that is not a
    /// valid header is left out.
    pub fn new<'a>(
        status: u16,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        body: Vec<u8>,
    ) -> Response {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                map.append(name, value);
            }
        }
        Response {
            status,
            headers: map,
            body,
        }
    }

    /// The first value of header `name` (case-insensitive); `None` also
    /// for a value that is not UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        let value = self.headers.get(name)?;
        std::str::from_utf8(value.as_bytes()).ok()
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
        let mut headers = vec![("x-a", "1")];
        if let Some(ct) = content_type {
            headers.push(("content-type", ct));
        }
        Response::new(200, headers, body.as_bytes().to_vec())
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
    fn responses_from_pairs_keep_valid_headers_and_read_them_as_text() {
        let r = Response::new(
            200,
            [
                ("X-Total", "3"),
                ("bad name", "x"),
                ("x-a", "1\n2"),
                ("x-total", "4"),
            ],
            Vec::new(),
        );
        let all: Vec<_> = r.headers.get_all("x-total").iter().collect();
        assert_eq!(all, ["3", "4"]);
        assert_eq!(r.headers.len(), 2);
        assert_eq!(r.header("X-TOTAL"), Some("3"));
        assert_eq!(r.header("x-a"), None);
        let mut utf8 = Response::new(200, [], Vec::new());
        let value = HeaderValue::from_bytes("café".as_bytes()).unwrap();
        utf8.headers.insert("x-name", value.clone());
        assert_eq!(utf8.header("x-name"), Some("café"));
        assert_eq!(header_text(&value), "café");
        let latin1 = HeaderValue::from_bytes(b"caf\xe9").unwrap();
        utf8.headers.insert("x-name", latin1.clone());
        assert_eq!(utf8.header("x-name"), None);
        assert_eq!(header_text(&latin1), "caf\u{fffd}");
    }
}
