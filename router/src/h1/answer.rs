//! The fast path's own answers: the router's errors (`x-mesh-error` and a
//! one-line body) and redirects, written in one buffer.

use super::conn::Next;
use super::write::{self};
use crate::proxy::{MeshError, MESH_ERROR};
use pingora::protocols::Stream;
use tokio::io::AsyncWriteExt;

/// Answers `error` and says what the connection does next.
pub(super) async fn reply(
    io: &mut Stream,
    out: &mut Vec<u8>,
    error: MeshError,
    head_only: bool,
    close: bool,
    start: &mut usize,
    consumed: usize,
) -> Next {
    let reason = error.reason();
    out.clear();
    let body = answer_body(error);
    write::answer(
        out,
        error.status(),
        &[(MESH_ERROR, reason)],
        body,
        head_only,
        close,
    );
    send_answer(io, out, close, start, consumed).await
}

/// Writes the answer in `out` and consumes the request.
pub(super) async fn send_answer(
    io: &mut Stream,
    out: &[u8],
    close: bool,
    start: &mut usize,
    consumed: usize,
) -> Next {
    if io.write_all(out).await.is_err() || io.flush().await.is_err() || close {
        return Next::Close;
    }
    *start += consumed;
    Next::KeepAlive
}

/// The one-line body of an error answer.
fn answer_body(error: MeshError) -> &'static str {
    match error {
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
