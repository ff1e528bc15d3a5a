//! The fast path's own answers: the router's errors (`x-mesh-error` and a
//! one-line body) and redirects, written in one buffer.

use super::conn::Next;
use super::record::Record;
use super::write::{self};
use crate::metrics::RequestHandles;
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
    let body = error.body();
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

/// Answers `error` itself, records it in `handles` (and the access log)
/// and says what the connection does next.
#[allow(clippy::too_many_arguments)]
pub(super) async fn refuse(
    io: &mut Stream,
    out: &mut Vec<u8>,
    error: MeshError,
    head_only: bool,
    close: bool,
    start: &mut usize,
    consumed: usize,
    rec: &Record<'_, '_, '_>,
    handles: &RequestHandles,
) -> Next {
    let next = reply(io, out, error, head_only, close, start, consumed).await;
    rec.done(handles, error.status(), Some(error));
    next
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
