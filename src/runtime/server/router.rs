//! Matching a request's method and path against the resources of a
//! service: `/orders/{id}` templates, percent-decoding, and the difference
//! between an unknown path (404) and a known path with another method (405).

use std::borrow::Cow;

/// One segment of a route template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Literal text.
    Literal(String),
    /// `{name}`: any non-empty segment, bound to `name`.
    Param(String),
}

/// A resource's method and path template.
#[derive(Debug, Clone)]
struct Route {
    method: String,
    segments: Vec<Segment>,
    /// Which segments are literal: of two matching templates, the one
    /// with a literal segment earliest wins.
    rank: Vec<bool>,
}

/// The routes of one service, by index (the resource's index).
#[derive(Debug, Clone, Default)]
pub struct Router {
    routes: Vec<Route>,
}

/// The values of a route's `{name}` segments.
type Bindings = Vec<(String, String)>;

/// The outcome of [`Router::find`].
#[derive(Debug, PartialEq, Eq)]
pub enum Match {
    /// Route `index`, with the decoded values of its `{name}` segments.
    Found(usize, Vec<(String, String)>),
    /// The path is known, but not with this method; the allowed methods.
    MethodNotAllowed(Vec<String>),
    /// No route has this path.
    NotFound,
}

impl Router {
    /// Adds a route (`method` upper case, `path` a template such as
    /// `/orders/{id}`); routes are numbered in the order they are added.
    pub fn add(&mut self, method: &str, path: &str) {
        let segments = split(path)
            .map(|s| {
                match s
                    .strip_prefix('{')
                    .and_then(|s| s.strip_suffix('}'))
                    .filter(|n| !n.is_empty())
                {
                    Some(name) => Segment::Param(name.to_string()),
                    None => Segment::Literal(s.to_string()),
                }
            })
            .collect::<Vec<_>>();
        let rank = segments
            .iter()
            .map(|s| matches!(s, Segment::Literal(_)))
            .collect();
        self.routes.push(Route {
            method: method.to_ascii_uppercase(),
            segments,
            rank,
        });
    }

    /// Whether some route (any method) has exactly this literal path.
    pub fn has_path(&self, path: &str) -> bool {
        self.find_any_method(path).is_some()
    }

    fn find_any_method(&self, path: &str) -> Option<usize> {
        let segs = decoded_segments(path);
        self.routes
            .iter()
            .position(|r| bind(&r.segments, &segs).is_some())
    }

    /// The route for `method` and `path` (the path without its query). When
    /// several templates match, the one with a literal segment earliest
    /// wins (`/orders/new` before `/orders/{id}`).
    pub fn find(&self, method: &str, path: &str) -> Match {
        let segs = decoded_segments(path);
        // (literal-segment pattern, route, bindings) of the best match.
        let mut best: Option<(&[bool], usize, Bindings)> = None;
        let mut allowed = Vec::new();
        for (i, r) in self.routes.iter().enumerate() {
            let Some(params) = bind(&r.segments, &segs) else {
                continue;
            };
            if !r.method.eq_ignore_ascii_case(method) {
                if !allowed.contains(&r.method) {
                    allowed.push(r.method.clone());
                }
                continue;
            }
            if best.as_ref().is_none_or(|(b, _, _)| r.rank.as_slice() > *b) {
                best = Some((&r.rank, i, params));
            }
        }
        match best {
            Some((_, i, params)) => Match::Found(i, params),
            None if allowed.is_empty() => Match::NotFound,
            None => Match::MethodNotAllowed(allowed),
        }
    }
}

/// The segments of a path: `/a/b/` and `/a/b` are the same; `/` has none.
fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// The decoded segments of `path`, borrowed where nothing was escaped.
fn decoded_segments(path: &str) -> Vec<Cow<'_, str>> {
    split(path)
        .map(|s| {
            if s.contains('%') {
                Cow::Owned(percent_decode(s))
            } else {
                Cow::Borrowed(s)
            }
        })
        .collect()
}

/// The parameter bindings when `segs` matches `template`.
fn bind(template: &[Segment], segs: &[Cow<'_, str>]) -> Option<Vec<(String, String)>> {
    if template.len() != segs.len() {
        return None;
    }
    let mut out = Vec::new();
    for (t, s) in template.iter().zip(segs) {
        match t {
            Segment::Literal(l) if *l == **s => {}
            Segment::Literal(_) => return None,
            Segment::Param(name) => out.push((name.clone(), s.to_string())),
        }
    }
    Some(out)
}

/// Decodes `%XX` escapes (invalid escapes and invalid UTF-8 are kept as
/// they are / replaced, never an error).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The pairs of a query string (`a=1&b=x+y`), decoded (`+` is a space).
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        let mut r = Router::default();
        r.add("GET", "/orders/{id}");
        r.add("GET", "/orders/new");
        r.add("POST", "/orders");
        r.add("GET", "/");
        r
    }

    #[test]
    fn literal_beats_parameter_and_params_are_decoded() {
        let r = router();
        assert_eq!(r.find("GET", "/orders/new"), Match::Found(1, vec![]));
        assert_eq!(
            r.find("GET", "/orders/a%20b"),
            Match::Found(0, vec![("id".into(), "a b".into())])
        );
        assert_eq!(r.find("GET", "/"), Match::Found(3, vec![]));
    }

    #[test]
    fn unknown_path_and_wrong_method() {
        let r = router();
        assert_eq!(r.find("GET", "/nothing"), Match::NotFound);
        assert_eq!(
            r.find("DELETE", "/orders"),
            Match::MethodNotAllowed(vec!["POST".into()])
        );
        assert!(r.has_path("/orders"));
        assert!(!r.has_path("/.flow/health"));
    }

    #[test]
    fn query_pairs() {
        assert_eq!(
            parse_query("q=a+b&limit=5&x&y=%41%zz"),
            vec![
                ("q".into(), "a b".into()),
                ("limit".into(), "5".into()),
                ("x".into(), "".into()),
                ("y".into(), "A%zz".into())
            ]
        );
    }
}
