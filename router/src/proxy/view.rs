//! The route index's view of a pingora request head: borrowed, no copies.

use mesh_config::lookup::RequestView;
use pingora::http::RequestHeader;

/// A request head as the route index sees it.
pub struct View<'a>(pub &'a RequestHeader);

impl RequestView for View<'_> {
    fn host(&self) -> &str {
        host(self.0)
    }

    fn path(&self) -> &str {
        self.0.uri.path()
    }

    fn query(&self) -> Option<&str> {
        self.0.uri.query()
    }

    fn method(&self) -> &str {
        self.0.method.as_str()
    }

    /// The first value; a value that is not visible ASCII counts as absent.
    fn header(&self, lowercase_name: &str) -> Option<&str> {
        self.0
            .headers
            .get(lowercase_name)
            .and_then(|v| v.to_str().ok())
    }
}

/// The `Host` header, else the URI's authority (HTTP/2 `:authority`), else
/// empty.
pub fn host(req: &RequestHeader) -> &str {
    req.headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri.authority().map(|a| a.as_str()))
        .unwrap_or("")
}
