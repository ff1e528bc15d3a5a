//! Forwarding a response of the fast path: the head as is or rebuilt
//! (hop-by-hop headers out, response header modifiers), the body as framed
//! (`content-length`, chunked, until close); the upstream connection back
//! to the pool when it can be reused.

use super::chunked::{ChunkedError, ChunkedScanner};
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

/// How a response body is framed, and how much of it is still to come.
#[derive(Clone, Copy)]
enum Framing {
    /// `content-length`: the bytes still to come.
    Length(u64),
    /// Chunked: the scanner finds the end.
    Chunked,
    /// No length: the body ends when the connection does.
    UntilClose,
}

/// The part of a read that is body.
struct Part {
    /// Body bytes at the start of the read.
    len: usize,
    /// The body ended within the read.
    done: bool,
    /// Nothing followed the body in the read.
    clean: bool,
}

impl Framing {
    /// How much of `bytes` (the next bytes read) is body; counts it off.
    /// `Err`: a broken chunked body.
    fn take(&mut self, scanner: &mut ChunkedScanner, bytes: &[u8]) -> Result<Part, ChunkedError> {
        let n = bytes.len();
        Ok(match self {
            Framing::Length(left) => {
                let len = (*left).min(n as u64) as usize;
                *left -= len as u64;
                Part {
                    len,
                    done: *left == 0,
                    clean: len == n,
                }
            }
            Framing::Chunked => match scanner.feed(bytes)? {
                Some(k) => Part {
                    len: k,
                    done: true,
                    clean: k == n,
                },
                None => Part {
                    len: n,
                    done: false,
                    clean: true,
                },
            },
            Framing::UntilClose => Part {
                len: n,
                done: false,
                clean: true,
            },
        })
    }
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
    let mut framing = if head_only || status == 204 || status == 304 {
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
    // A broken chunked body: what came goes to the client, then the
    // connection ends.
    let (part, mut done, mut reuse, broken) = match framing.take(&mut scanner, available) {
        Ok(p) => (p.len, p.done, reuse && p.clean, false),
        Err(_) => (available.len(), true, false, true),
    };
    let sent = if first {
        out.extend_from_slice(available.get(..part).unwrap_or(&[]));
        io.write_all(out).await
    } else {
        io.write_all(resp.get(..head + part).unwrap_or(&[])).await
    };
    if sent.is_err() || broken {
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
        let p = match framing.take(&mut scanner, read) {
            Ok(p) => p,
            Err(_) => {
                let _ = io.write_all(read).await;
                return close();
            }
        };
        done = p.done;
        reuse = reuse && p.clean;
        if io
            .write_all(read.get(..p.len).unwrap_or(&[]))
            .await
            .is_err()
        {
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
