//! The answers the router gives itself: errors a caller can act on (each
//! with a status, an `x-mesh-error` reason and a one-line body) and the
//! mapping from pingora's errors to them.

use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pingora::{Error, ErrorSource, ErrorType};

/// The header naming why the router answered an error itself.
pub const MESH_ERROR: &str = "x-mesh-error";

/// An error the router answers itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeshError {
    /// No table served yet: 503.
    NoTable,
    /// No route matches: 404.
    NoRoute,
    /// The rule has no backend with a weight (Gateway API): 500.
    NoBackend,
    /// The chosen backendRef names no service (Gateway API): 500.
    BackendNotFound,
    /// The service has no endpoint to send to: 503.
    NoHealthyEndpoint,
    /// Connecting to the endpoint failed: 502.
    ConnectFailed,
    /// The rule's request or backend request timeout passed: 504.
    Timeout,
    /// The endpoint closed or broke the connection mid-request: 502.
    UpstreamReset,
    /// The request itself is bad: 400.
    BadRequest,
    /// A bug or an internal failure: 500.
    Internal,
}

impl MeshError {
    pub fn status(self) -> u16 {
        match self {
            MeshError::NoRoute => 404,
            MeshError::BadRequest => 400,
            MeshError::NoBackend | MeshError::BackendNotFound | MeshError::Internal => 500,
            MeshError::ConnectFailed | MeshError::UpstreamReset => 502,
            MeshError::NoTable | MeshError::NoHealthyEndpoint => 503,
            MeshError::Timeout => 504,
        }
    }

    /// The `x-mesh-error` value and the body (with a newline).
    pub fn reason(self) -> &'static str {
        match self {
            MeshError::NoTable => "no-table",
            MeshError::NoRoute => "no-route",
            MeshError::NoBackend => "no-backend",
            MeshError::BackendNotFound => "backend-not-found",
            MeshError::NoHealthyEndpoint => "no-healthy-endpoint",
            MeshError::ConnectFailed => "upstream-connect-failed",
            MeshError::Timeout => "timeout",
            MeshError::UpstreamReset => "upstream-reset",
            MeshError::BadRequest => "bad-request",
            MeshError::Internal => "internal-error",
        }
    }

    /// The one-line body of the answer: the reason and a newline.
    pub fn body(self) -> &'static str {
        match self {
            MeshError::NoTable => "no-table\n",
            MeshError::NoRoute => "no-route\n",
            MeshError::NoBackend => "no-backend\n",
            MeshError::BackendNotFound => "backend-not-found\n",
            MeshError::NoHealthyEndpoint => "no-healthy-endpoint\n",
            MeshError::ConnectFailed => "upstream-connect-failed\n",
            MeshError::Timeout => "timeout\n",
            MeshError::UpstreamReset => "upstream-reset\n",
            MeshError::BadRequest => "bad-request\n",
            MeshError::Internal => "internal-error\n",
        }
    }

    /// A pingora error carrying this answer's status, for returning from a
    /// phase (the proxy answers it in `fail_to_proxy`).
    pub fn into_error(self) -> Box<Error> {
        Error::explain(ErrorType::HTTPStatus(self.status()), self.reason())
    }

    /// What to answer for a pingora error that no phase explained.
    pub fn from_error(e: &Error) -> Option<MeshError> {
        use ErrorType::*;
        Some(match e.etype() {
            HTTPStatus(s) => match s {
                400 => MeshError::BadRequest,
                404 => MeshError::NoRoute,
                502 => MeshError::ConnectFailed,
                503 => MeshError::NoHealthyEndpoint,
                504 => MeshError::Timeout,
                _ => MeshError::Internal,
            },
            ConnectTimedout | ConnectRefused | ConnectNoRoute | ConnectError | SocketError
            | BindError | TLSHandshakeFailure | TLSHandshakeTimedout | InvalidCert
            | HandshakeError | ConnectProxyFailure | TLSWantX509Lookup => MeshError::ConnectFailed,
            ReadTimedout | WriteTimedout => match e.esource() {
                ErrorSource::Downstream => return None,
                _ => MeshError::Timeout,
            },
            _ => match e.esource() {
                ErrorSource::Upstream => MeshError::UpstreamReset,
                ErrorSource::Downstream => match e.etype() {
                    ReadError | WriteError | ConnectionClosed => return None,
                    _ => MeshError::BadRequest,
                },
                ErrorSource::Internal | ErrorSource::Unset => MeshError::Internal,
            },
        })
    }
}

/// Writes a short answer: `status`, the extra `headers`, and `body`.
pub async fn respond(
    session: &mut Session,
    status: u16,
    headers: &[(&'static str, &str)],
    body: &'static str,
) -> pingora::Result<()> {
    let mut resp = ResponseHeader::build(status, Some(headers.len() + 2))?;
    for (name, value) in headers {
        resp.insert_header(*name, *value)?;
    }
    resp.insert_header("content-type", "text/plain")?;
    resp.insert_header("content-length", body.len().to_string())?;
    let head_only = session.req_header().method == pingora::http::Method::HEAD || body.is_empty();
    session
        .write_response_header(Box::new(resp), head_only)
        .await?;
    if !head_only {
        session
            .write_response_body(Some(bytes::Bytes::from_static(body.as_bytes())), true)
            .await?;
    }
    Ok(())
}

/// Answers `error`: its status, `x-mesh-error` and a one-line body.
pub async fn respond_error(session: &mut Session, error: MeshError) -> pingora::Result<()> {
    let body = error.body();
    respond(
        session,
        error.status(),
        &[(MESH_ERROR, error.reason())],
        body,
    )
    .await
}
