//! Forwarding a response of the fast path: the head as is or rebuilt
//! (hop-by-hop headers out, response header modifiers), the body as framed
//! (`content-length`, chunked, until close); the upstream connection back
//! to the pool when it can be reused.

use super::chunked::ChunkedScanner;
use super::conn::Next;
use super::headers::EditList;
use super::pool;
use super::upstream::{parse_response, ResponseHead};
use super::write;
use crate::filters::{self};
use mesh_config::model::Filter;
use pingora::protocols::Stream;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How a response body is framed.
#[derive(Clone, Copy)]
enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

/// Forwards the response whose head is `resp[..head]` (`filled` bytes
/// read) and its body; parks the upstream connection when it can be
/// reused. Returns the status and what the client connection does next.
#[allow(clippy::too_many_arguments)]
pub(super) async fn respond<'f, F: Iterator<Item = &'f Filter>>(
    io: &mut Stream,
    mut up: TcpStream,
    addr: SocketAddr,
    resp: &mut [u8],
    out: &mut Vec<u8>,
    parsed: ResponseHead,
    filled: usize,
    head_only: bool,
    close_asked: bool,
    filters: impl Fn() -> F,
) -> (u16, Next) {
    let (head, status, facts) = (parsed.len, parsed.status, parsed.facts);
    let framing = if head_only || status == 204 || status == 304 {
        Framing::Length(0)
    } else if facts.chunked {
        Framing::Chunked
    } else if facts.until_close {
        Framing::UntilClose
    } else {
        facts.length.map_or(Framing::UntilClose, Framing::Length)
    };
    let until_close = matches!(framing, Framing::UntilClose);
    let client_close = close_asked || until_close;
    let reuse = !facts.close && !until_close;
    let edits = filters().any(|f| matches!(f, Filter::ResponseHeaders(_)));
    // Rebuilt: hop-by-hop headers out, header modifiers, `connection:
    // close` for the client, an HTTP/1.0 head as HTTP/1.1 (the client's
    // connection stays open). Otherwise forwarded as read.
    let first = edits || facts.skip || client_close || parsed.version == 0;
    if first {
        let bytes = resp.get(..head).unwrap_or(&[]);
        let rebuilt = parse_response(bytes, |_, r| {
            let reason = r.reason.unwrap_or("");
            out.clear();
            if edits {
                let mut list = EditList::from_parsed(r.headers);
                for f in filters() {
                    if let Filter::ResponseHeaders(e) = f {
                        if let Err(e) = filters::apply_header_edits(e, &mut list) {
                            tracing::warn!("response header filter: {e}");
                        }
                    }
                }
                write::client_head(out, status, reason, &list, client_close);
            } else {
                write::client_head(out, status, reason, r.headers, client_close);
            }
        });
        if !matches!(rebuilt, Ok(Some(()))) {
            return (0, Next::Close);
        }
    }
    let close = || (status, Next::Close);
    // The body bytes read with the head.
    let mut scanner = ChunkedScanner::new();
    let available = resp.get(head..filled).unwrap_or(&[]);
    let (part, mut done, mut reuse) = match frame(framing, &mut scanner, available) {
        Some(x) => (x.0, x.1, reuse && x.2),
        None => (available.len(), true, false),
    };
    let mut left = match framing {
        Framing::Length(n) => n - part as u64,
        _ => 0,
    };
    let sent = if first {
        out.extend_from_slice(available.get(..part).unwrap_or(&[]));
        io.write_all(out).await
    } else {
        io.write_all(resp.get(..head + part).unwrap_or(&[])).await
    };
    if sent.is_err() {
        return close();
    }
    while !done {
        let n = match up.read(resp).await {
            Ok(n) => n,
            Err(_) => return close(),
        };
        if n == 0 {
            if matches!(framing, Framing::UntilClose) {
                reuse = false;
                break;
            }
            // The endpoint ended the body early: the client sees it broken.
            return close();
        }
        let read = resp.get(..n).unwrap_or(&[]);
        let take = match framing {
            Framing::Length(_) => {
                let take = left.min(n as u64) as usize;
                left -= take as u64;
                done = left == 0;
                reuse = reuse && take == n;
                take
            }
            Framing::Chunked => match scanner.feed(read) {
                Ok(Some(k)) => {
                    done = true;
                    reuse = reuse && k == n;
                    k
                }
                Ok(None) => n,
                Err(_) => {
                    let _ = io.write_all(read).await;
                    return close();
                }
            },
            Framing::UntilClose => n,
        };
        if io.write_all(read.get(..take).unwrap_or(&[])).await.is_err() {
            return close();
        }
    }
    if io.flush().await.is_err() {
        return close();
    }
    if reuse {
        pool::put(addr, up);
    }
    (
        status,
        if client_close {
            Next::Close
        } else {
            Next::KeepAlive
        },
    )
}

/// How much of `bytes` (read after the head) is body, whether the body
/// ended there, and whether nothing followed it. `None`: a broken chunked
/// body.
fn frame(
    framing: Framing,
    scanner: &mut ChunkedScanner,
    bytes: &[u8],
) -> Option<(usize, bool, bool)> {
    match framing {
        Framing::Length(n) => {
            let part = (bytes.len() as u64).min(n) as usize;
            Some((part, part as u64 == n, part == bytes.len()))
        }
        Framing::Chunked => match scanner.feed(bytes) {
            Ok(Some(k)) => Some((k, true, k == bytes.len())),
            Ok(None) => Some((bytes.len(), false, true)),
            Err(_) => None,
        },
        Framing::UntilClose => Some((bytes.len(), false, true)),
    }
}
