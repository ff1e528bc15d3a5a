//! One upstream attempt of the fast path: a pooled or new connection, the
//! request (and the rest of the client's body) sent, a whole response head
//! read back (interim answers forwarded to the client).

use super::pool;
use super::request::MAX_HEADERS;
use super::write::ResponseFacts;
use pingora::protocols::Stream;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Why an upstream attempt failed.
pub(super) enum Failure {
    /// No connection to the endpoint.
    Connect,
    /// The connection broke or closed before a whole response head.
    Upstream,
    /// The attempt's time ran out.
    Timeout,
    /// The client went away while its body was being sent.
    Client,
    /// The endpoint answered something that is not an HTTP/1 response
    /// head, or one over [`MAX_RESPONSE_HEAD`] (not retried: the endpoint
    /// did get the request).
    BadResponse,
}

/// The largest response head the fast path reads (pingora's limit).
pub(super) const MAX_RESPONSE_HEAD: usize = 1024 * 1024;
/// Most header lines of a response head (pingora's limit).
pub(super) const MAX_RESPONSE_HEADERS: usize = 256;

/// Parses a response head and hands it to `f` with its length: first with
/// room for [`MAX_HEADERS`] headers on the stack, else (a head with more)
/// [`MAX_RESPONSE_HEADERS`] on the heap. `Ok(None)`: not complete yet.
pub(super) fn parse_response<R>(
    bytes: &[u8],
    f: impl FnOnce(usize, &httparse::Response<'_, '_>) -> R,
) -> Result<Option<R>, httparse::Error> {
    // Left uninitialised: httparse writes the ones it fills (no 2 KiB of
    // zeroes per parse).
    let config = httparse::ParserConfig::default();
    let mut hs = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut r = httparse::Response::new(&mut []);
    match config.parse_response_with_uninit_headers(&mut r, bytes, &mut hs) {
        Ok(httparse::Status::Complete(n)) => return Ok(Some(f(n, &r))),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {}
        Err(e) => return Err(e),
    }
    let mut hs = vec![MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_RESPONSE_HEADERS];
    let mut r = httparse::Response::new(&mut []);
    match config.parse_response_with_uninit_headers(&mut r, bytes, &mut hs)? {
        httparse::Status::Complete(n) => Ok(Some(f(n, &r))),
        httparse::Status::Partial => Ok(None),
    }
}

/// A final response head as the fast path reads it, once.
#[derive(Debug, Clone, Copy)]
pub(super) struct ResponseHead {
    /// Its length in bytes.
    pub len: usize,
    pub status: u16,
    /// 0: HTTP/1.0, 1: HTTP/1.1.
    pub version: u8,
    pub facts: ResponseFacts,
}

/// One attempt: a connection to `addr` (pooled, else new within
/// `connect`), the request in `out`, the rest of the client's body
/// (`body_rest` bytes, copied through `resp`), then a whole response head
/// (interim `1xx` answers forwarded to the client) read into `resp`.
/// Returns the connection, the head's length and the bytes read.
pub(super) async fn exchange(
    io: &mut Stream,
    addr: SocketAddr,
    out: &[u8],
    body_rest: u64,
    resp: &mut Vec<u8>,
    connect: Option<Duration>,
) -> Result<(TcpStream, ResponseHead, usize), Failure> {
    let mut pooled = pool::take(addr);
    loop {
        let reused = pooled.is_some();
        let mut up = match pooled.take() {
            Some(up) => up,
            None => new_connection(addr, connect).await?,
        };
        let sent = async {
            up.write_all(out).await.map_err(|_| Failure::Upstream)?;
            let mut left = body_rest;
            while left > 0 {
                let want = usize::try_from(left).unwrap_or(usize::MAX).min(resp.len());
                let n = io
                    .read(resp.get_mut(..want).unwrap_or(&mut []))
                    .await
                    .map_err(|_| Failure::Client)?;
                if n == 0 {
                    return Err(Failure::Client);
                }
                up.write_all(resp.get(..n).unwrap_or(&[]))
                    .await
                    .map_err(|_| Failure::Upstream)?;
                left -= n as u64;
            }
            Ok(())
        }
        .await;
        let result = match sent {
            Ok(()) => read_head(io, &mut up, resp).await,
            Err(e) => Err((e, 0)),
        };
        match result {
            Ok((head, filled)) => return Ok((up, head, filled)),
            // An idle connection the endpoint closed before it saw the
            // request: send it again on a new one.
            Err((Failure::Upstream, 0)) if reused && body_rest == 0 => continue,
            Err((e, _)) => return Err(e),
        }
    }
}

/// A new connection to `addr`, within `timeout`.
async fn new_connection(addr: SocketAddr, timeout: Option<Duration>) -> Result<TcpStream, Failure> {
    let connect = TcpStream::connect(addr);
    let up = match timeout {
        Some(t) => tokio::time::timeout(t, connect)
            .await
            .map_err(|_| Failure::Connect)?,
        None => connect.await,
    }
    .map_err(|_| Failure::Connect)?;
    let _ = up.set_nodelay(true);
    Ok(up)
}

/// Reads a whole final response head into `resp` (forwarding interim
/// answers); on failure also how many bytes had come.
async fn read_head(
    io: &mut Stream,
    up: &mut TcpStream,
    resp: &mut Vec<u8>,
) -> Result<(ResponseHead, usize), (Failure, usize)> {
    let mut filled = 0;
    loop {
        if filled == resp.len() {
            if resp.len() >= MAX_RESPONSE_HEAD {
                return Err((Failure::BadResponse, filled));
            }
            let size = (resp.len() * 2).clamp(4096, MAX_RESPONSE_HEAD);
            resp.resize(size, 0);
        }
        let room = resp.get_mut(filled..).unwrap_or(&mut []);
        let n = up
            .read(room)
            .await
            .map_err(|_| (Failure::Upstream, filled))?;
        if n == 0 {
            return Err((Failure::Upstream, filled));
        }
        filled += n;
        loop {
            let bytes = resp.get(..filled).unwrap_or(&[]);
            let parsed = parse_response(bytes, |len, r| {
                let version = r.version.unwrap_or(1);
                ResponseHead {
                    len,
                    status: r.code.unwrap_or(0),
                    version,
                    facts: ResponseFacts::scan(version, r.headers),
                }
            });
            let parsed = match parsed {
                Ok(Some(x)) => x,
                Ok(None) => break,
                Err(_) => return Err((Failure::BadResponse, filled)),
            };
            let (head, code) = (parsed.len, parsed.status);
            if !(100..200).contains(&code) || code == 101 {
                return Ok((parsed, filled));
            }
            // An interim answer (100 Continue, 103 Early Hints): to the client.
            if io
                .write_all(bytes.get(..head).unwrap_or(&[]))
                .await
                .is_err()
                || io.flush().await.is_err()
            {
                return Err((Failure::Client, filled));
            }
            resp.copy_within(head..filled, 0);
            filled -= head;
            if filled == 0 {
                break;
            }
        }
    }
}
