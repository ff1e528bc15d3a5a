//! What is recorded of a finished request: its metrics, through the
//! handles of its route and service, and its access log line.

use super::request::{self};
use super::FastApp;
use crate::access_log;
use crate::filters::RequestId;
use crate::filters::{self};
use crate::metrics::RequestHandles;
use crate::proxy::MeshError;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// What the metrics and the access log record of a finished request.
pub(super) struct Record<'r, 'h, 'b> {
    pub(super) app: &'r FastApp,
    pub(super) started: Instant,
    pub(super) client: Option<IpAddr>,
    pub(super) method: &'b str,
    pub(super) host: &'b str,
    pub(super) target: &'b str,
    pub(super) headers: &'h [httparse::Header<'b>],
    pub(super) route: &'r str,
    pub(super) service: &'r str,
    pub(super) upstream: Option<SocketAddr>,
    pub(super) attempts: u32,
    /// The `x-request-id` the router generated, if it did.
    pub(super) request_id: Option<RequestId>,
}

impl Record<'_, '_, '_> {
    /// Counts the request in `handles` and logs it.
    pub(super) fn done(&self, handles: &RequestHandles, status: u16, error: Option<MeshError>) {
        handles.observe(status, self.started.elapsed().as_secs_f64());
        self.log(status, error);
    }

    /// Writes the access log line, when the access log is on.
    pub(super) fn log(&self, status: u16, error: Option<MeshError>) {
        let Some(log) = &self.app.access_log else {
            return;
        };
        let request_id = match &self.request_id {
            Some(id) => Some(id.as_str()),
            None => self
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(filters::X_REQUEST_ID))
                .and_then(|h| request::visible(h.value)),
        };
        log.log(&access_log::Entry {
            client: self.client,
            method: self.method,
            host: self.host,
            path: self.target,
            proto: "HTTP/1.1",
            status,
            duration: self.started.elapsed(),
            route: self.route,
            service: self.service,
            upstream: self.upstream,
            attempts: self.attempts,
            request_id,
            error: error.map(MeshError::reason),
        });
    }
}
