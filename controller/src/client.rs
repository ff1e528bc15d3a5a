//! The router's side of the controller → router protocol
//! ([`mesh_config::wire`]): open a subscription and read its messages
//! ([`Subscription`]), post a [`Report`] ([`report`]), and keep the table the
//! messages describe ([`TableFollower`]). Plain HTTP/1.1 with hyper.

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::body::Incoming;
use hyper::header;
use hyper::{Method, Request, Response, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use mesh_config::table::{RouteTable, TableError};
use mesh_config::wire::{check_router_id, Report, ToRouter, REPORT_PATH, SUBSCRIBE_PATH};
use std::time::Duration;

/// The longest line [`Subscription::next`] accepts unless told otherwise.
pub const DEFAULT_MAX_LINE: usize = 1 << 30;
/// How much of an error response's body is kept in [`ClientError::Status`].
const ERROR_BODY_LIMIT: usize = 4096;

/// What went wrong talking to a controller, or following its table.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid controller URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("invalid router id: {0}")]
    RouterId(String),
    #[error("{url}: no answer within {after:?}")]
    Timeout { url: String, after: Duration },
    #[error("{url}: {source}")]
    Request {
        url: String,
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("reading from the controller: {0}")]
    Body(#[from] hyper::Error),
    #[error("a message line is over {limit} bytes")]
    LineTooLong { limit: usize },
    #[error("the stream ended in the middle of a message")]
    Truncated,
    #[error("bad message: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Table(#[from] TableError),
    #[error(
        "snapshot at revision {revision} says table hash {stated:x}, its parts hash to {actual:x}"
    )]
    SnapshotHash {
        revision: i64,
        stated: u64,
        actual: u64,
    },
    #[error(
        "delta to revision {revision} applies to table hash {base:x}, but the table here is {have}"
    )]
    BaseMismatch {
        revision: i64,
        base: u64,
        have: String,
    },
    #[error("heartbeat says the table sent has hash {stated:x} at revision {revision}, but the table here is {have}")]
    Diverged {
        revision: i64,
        stated: u64,
        have: String,
    },
}

fn http_client<B>(connect_timeout: Duration) -> Client<HttpConnector, B>
where
    B: hyper::body::Body + Send + 'static + Unpin,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(connect_timeout));
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// `controller` (like `http://127.0.0.1:7300`) joined with `path_and_query`.
fn url(controller: &str, path_and_query: &str) -> Result<(String, Uri), ClientError> {
    let url = format!("{}{path_and_query}", controller.trim_end_matches('/'));
    let uri: Uri = url
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| ClientError::Url {
            url: url.clone(),
            reason: e.to_string(),
        })?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        return Err(ClientError::Url {
            url,
            reason: "expected http://HOST:PORT".to_owned(),
        });
    }
    Ok((url, uri))
}

/// Sends `req` and waits for the response head, at most `timeout`; a status
/// other than 2xx is an error carrying the start of the body.
async fn send<B>(
    client: &Client<HttpConnector, B>,
    url: &str,
    req: Request<B>,
    timeout: Duration,
) -> Result<Response<Incoming>, ClientError>
where
    B: hyper::body::Body + Send + 'static + Unpin,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let timed_out = || ClientError::Timeout {
        url: url.to_owned(),
        after: timeout,
    };
    let resp = tokio::time::timeout(timeout, client.request(req))
        .await
        .map_err(|_| timed_out())?
        .map_err(|source| ClientError::Request {
            url: url.to_owned(),
            source,
        })?;
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status().as_u16();
    let body = match tokio::time::timeout(
        timeout,
        Limited::new(resp.into_body(), ERROR_BODY_LIMIT).collect(),
    )
    .await
    {
        Ok(Ok(body)) => String::from_utf8_lossy(&body.to_bytes()).trim().to_owned(),
        _ => String::new(),
    };
    Err(ClientError::Status {
        url: url.to_owned(),
        status,
        body,
    })
}

/// An open subscription stream.
#[derive(Debug)]
pub struct Subscription {
    body: Incoming,
    buf: BytesMut,
    /// How much of `buf` is known to hold no newline.
    scanned: usize,
    max_line: usize,
    ended: bool,
}

impl Subscription {
    /// Connects to `controller` (a URL like `http://127.0.0.1:7300`) as
    /// router `router_id`; `connect_timeout` bounds the connection and the
    /// wait for the response head.
    pub async fn connect(
        controller: &str,
        router_id: &str,
        connect_timeout: Duration,
    ) -> Result<Subscription, ClientError> {
        check_router_id(router_id).map_err(ClientError::RouterId)?;
        let (url, uri) = url(controller, &format!("{SUBSCRIBE_PATH}?router={router_id}"))?;
        let req = Request::get(uri)
            .header(header::ACCEPT, mesh_config::wire::STREAM_CONTENT_TYPE)
            .body(Empty::<Bytes>::new())
            .map_err(|e| ClientError::Url {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        let client = http_client(connect_timeout);
        let resp = send(&client, &url, req, connect_timeout).await?;
        Ok(Subscription {
            body: resp.into_body(),
            buf: BytesMut::new(),
            scanned: 0,
            max_line: DEFAULT_MAX_LINE,
            ended: false,
        })
    }

    /// Sets the longest line accepted (default [`DEFAULT_MAX_LINE`]).
    pub fn set_max_line(&mut self, bytes: usize) {
        self.max_line = bytes;
    }

    /// The next message; `Ok(None)` when the controller closed the stream.
    /// Errors on a line over the maximum, bad JSON or a stream cut in the
    /// middle of a line. Cancel-safe: nothing read is lost if the future is
    /// dropped (e.g. by a heartbeat timeout).
    pub async fn next(&mut self) -> Result<Option<ToRouter>, ClientError> {
        loop {
            if let Some(pos) = self.buf[self.scanned..].iter().position(|b| *b == b'\n') {
                let end = self.scanned + pos;
                let line = self.buf.split_to(end + 1);
                self.scanned = 0;
                let line = &line[..end];
                if line.len() > self.max_line {
                    return Err(ClientError::LineTooLong {
                        limit: self.max_line,
                    });
                }
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Ok(Some(serde_json::from_slice(line)?));
            }
            self.scanned = self.buf.len();
            if self.buf.len() > self.max_line {
                return Err(ClientError::LineTooLong {
                    limit: self.max_line,
                });
            }
            if self.ended {
                if self.buf.iter().all(u8::is_ascii_whitespace) {
                    return Ok(None);
                }
                return Err(ClientError::Truncated);
            }
            match self.body.frame().await {
                None => self.ended = true,
                Some(frame) => {
                    if let Ok(data) = frame?.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
            }
        }
    }
}

/// Posts `report` to `controller`, waiting at most `timeout` for the answer.
pub async fn report(
    controller: &str,
    report: &Report,
    timeout: Duration,
) -> Result<(), ClientError> {
    let (url, uri) = url(controller, REPORT_PATH)?;
    let body = serde_json::to_vec(report)?;
    let req = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| ClientError::Url {
            url: url.clone(),
            reason: e.to_string(),
        })?;
    let client = http_client(timeout);
    let resp = send(&client, &url, req, timeout).await?;
    // Drain the (empty) body so the connection ends cleanly.
    let _ = tokio::time::timeout(timeout, resp.into_body().collect()).await;
    Ok(())
}

/// `GET url`: the status and the body as text, all within `timeout`. For
/// the admin endpoints (`/ready`, `/metrics`, `/v1/fleet`, `/v1/table`).
pub async fn get(url: &str, timeout: Duration) -> Result<(u16, String), ClientError> {
    let uri: Uri = url
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| ClientError::Url {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
    let client = http_client::<Empty<Bytes>>(timeout);
    let work = async {
        let resp = client
            .get(uri)
            .await
            .map_err(|source| ClientError::Request {
                url: url.to_owned(),
                source,
            })?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| ClientError::Timeout {
            url: url.to_owned(),
            after: timeout,
        })?
}

/// Keeps the table a subscription describes, as a router does: a snapshot
/// replaces it, a delta applies to it after checking the base and result
/// hashes, a heartbeat checks that nothing was missed.
#[derive(Debug, Default)]
pub struct TableFollower {
    /// The table and its content hash.
    table: Option<(RouteTable, u64)>,
}

impl TableFollower {
    pub fn new() -> TableFollower {
        TableFollower::default()
    }

    /// The table so far.
    pub fn table(&self) -> Option<&RouteTable> {
        self.table.as_ref().map(|(t, _)| t)
    }

    fn have(&self) -> String {
        match &self.table {
            Some((t, hash)) => format!("hash {hash:x} at revision {}", t.revision),
            None => "none".to_owned(),
        }
    }

    /// Applies one message; returns the table after it. On an error the
    /// table is unchanged, and the router should reconnect (a new stream
    /// starts with a snapshot).
    pub fn apply(&mut self, msg: ToRouter) -> Result<Option<&RouteTable>, ClientError> {
        match msg {
            ToRouter::Snapshot {
                revision,
                table_hash,
                parts,
            } => {
                let table = RouteTable::from_parts(revision, parts)?;
                let actual = table.hash();
                if actual != table_hash {
                    return Err(ClientError::SnapshotHash {
                        revision,
                        stated: table_hash,
                        actual,
                    });
                }
                self.table = Some((table, actual));
            }
            ToRouter::Delta {
                revision,
                base_hash,
                table_hash,
                changes,
                ..
            } => {
                let next = match &self.table {
                    Some((table, hash)) if *hash == base_hash => {
                        table.apply(revision, &changes, table_hash)?
                    }
                    _ => {
                        return Err(ClientError::BaseMismatch {
                            revision,
                            base: base_hash,
                            have: self.have(),
                        })
                    }
                };
                self.table = Some((next, table_hash));
            }
            ToRouter::Heartbeat {
                revision,
                table_hash,
            } => {
                // Revision 0 with hash 0: the controller has no table yet
                // (a follower kept across reconnects may have one).
                let no_table_yet = revision == 0 && table_hash == 0;
                if !no_table_yet && self.table.as_ref().map(|(_, h)| *h) != Some(table_hash) {
                    return Err(ClientError::Diverged {
                        revision,
                        stated: table_hash,
                        have: self.have(),
                    });
                }
            }
        }
        Ok(self.table())
    }
}
