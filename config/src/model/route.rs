//! The typed parts of a validated Route: rules, matches, filters, backends.

use super::{HeaderName, Name, Pattern};
use crate::spec::HttpMethod;
use std::time::Duration;

/// A validated rule (Gateway API `HTTPRouteRule`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub name: Option<Name>,
    /// At least one match (default: `PathPrefix /`).
    pub matches: Vec<Match>,
    pub filters: Vec<Filter>,
    /// Empty: requests matching this rule get a 500 (Gateway API).
    pub backends: Vec<Backend>,
    pub timeouts: Timeouts,
    pub retry: Option<Retry>,
}

/// A validated match: every condition must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub path: PathMatch,
    pub headers: Vec<HeaderMatch>,
    pub query_params: Vec<QueryParamMatch>,
    pub method: Option<HttpMethod>,
}

/// How the request path is matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    /// The whole path equals this value.
    Exact(String),
    /// The path starts with this value, element by element (`/foo` matches
    /// `/foo` and `/foo/bar`, not `/foobar`). Stored without a trailing `/`
    /// except for the root prefix `/`.
    Prefix(String),
    /// The whole path matches this regular expression.
    Regex(Pattern),
}

/// A header condition. Header names compare case-insensitively (stored
/// lower-case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderMatch {
    pub name: HeaderName,
    pub value: ValueMatch,
}

/// A query parameter condition (names compare exactly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryParamMatch {
    pub name: String,
    pub value: ValueMatch,
}

/// How a header or query value is matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueMatch {
    Exact(String),
    /// The whole value matches.
    Regex(Pattern),
}

/// A validated filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    RequestHeaders(HeaderEdits),
    ResponseHeaders(HeaderEdits),
    Redirect(Redirect),
    Rewrite(Rewrite),
    Mirror(Mirror),
}

/// Gateway API `HTTPHeaderFilter`, validated: names lower-case and unique
/// across set, add and remove.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderEdits {
    pub set: Vec<(HeaderName, String)>,
    pub add: Vec<(HeaderName, String)>,
    pub remove: Vec<HeaderName>,
}

/// The scheme of a redirect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

/// A validated redirect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub scheme: Option<Scheme>,
    pub hostname: Option<String>,
    pub path: Option<PathRewrite>,
    pub port: Option<u16>,
    /// 301, 302, 303, 307 or 308.
    pub status: u16,
}

/// How a path is replaced by a redirect or rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathRewrite {
    /// Replace the whole path.
    Full(String),
    /// Replace the part matched by the rule's `PathPrefix` match. Stored
    /// without a trailing `/` except for `/` itself (an empty
    /// `replacePrefixMatch` is `/`), as the Gateway API ignores it.
    Prefix(String),
}

/// A validated URL rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    pub hostname: Option<String>,
    pub path: Option<PathRewrite>,
}

/// A validated request mirror: a `numerator/denominator` share of requests
/// is copied to `service`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    pub service: Name,
    pub port: Option<u16>,
    pub numerator: u32,
    /// At least 1, at least `numerator`.
    pub denominator: u32,
}

/// A validated backend reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub service: Name,
    pub port: Option<u16>,
    /// 0..=1,000,000.
    pub weight: u32,
    pub filters: Vec<Filter>,
}

/// Validated timeouts; `None` means no limit (absent or `0s`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub request: Option<Duration>,
    /// Never longer than `request` when both are set.
    pub backend_request: Option<Duration>,
}

/// A validated retry policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    /// 400..=599.
    pub codes: Vec<u16>,
    /// Retries after the first attempt, 0..=10 (default 1).
    pub attempts: u32,
    /// Minimum wait between attempts; `None`: the router's default; zero:
    /// retry at once.
    pub backoff: Option<Duration>,
}
