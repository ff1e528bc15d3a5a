//! `mesh-demo`: the demo service of the local cluster (`deploy/local/up.sh`).
//!
//! Every request is answered `200` with a JSON document naming this
//! instance and echoing what it received, so that what the routers did
//! (which service and instance a request reached, the path after rewrites,
//! the headers they set) is visible in the answer:
//!
//! ```json
//! {"service":"demo-v1","instance":"demo-1","version":"v1",
//!  "method":"GET","path":"/hello","query":"a=1","host":"demo.example.com",
//!  "headers":{"x-request-id":"...","x-forwarded-for":"127.0.0.1"}}
//! ```
//!
//! `headers` holds only the few headers a mesh sets or routes on
//! ([`ECHOED_HEADERS`]), when present. The answer also carries the headers
//! `x-demo-instance` and `x-demo-version`. `GET /healthz` answers `200 ok`.

use anyhow::Context as _;
use axum::extract::State;
use axum::http::header::{HeaderName, HOST};
use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Request headers echoed back under `headers` when present.
pub const ECHOED_HEADERS: [&str; 5] = [
    "x-request-id",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-canary",
    "user-agent",
];

/// Who this instance is and where it listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Where to listen; port 0 picks a free port ([`Running::addr`] tells
    /// which).
    pub listen: SocketAddr,
    /// The mesh Service this instance belongs to (`demo-v1`).
    pub service: String,
    /// This instance's name (`demo-1`).
    pub instance: String,
    /// Its version label (`v1`).
    pub version: String,
}

/// A started demo server.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// The address it is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits until the server has stopped (after the shutdown future given
    /// to [`run`] completed and open connections closed).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task
            .await
            .context("the demo server task failed")?
            .context("the demo server failed")
    }
}

/// The identity every answer carries; the header values are checked once.
#[derive(Debug)]
struct Identity {
    service: String,
    instance: String,
    version: String,
    instance_header: HeaderValue,
    version_header: HeaderValue,
}

/// Binds `settings.listen` and serves until `shutdown` completes; returns
/// once bound, with the address.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    let identity = Arc::new(Identity {
        instance_header: HeaderValue::from_str(&settings.instance)
            .with_context(|| format!("instance {:?} is not a header value", settings.instance))?,
        version_header: HeaderValue::from_str(&settings.version)
            .with_context(|| format!("version {:?} is not a header value", settings.version))?,
        service: settings.service,
        instance: settings.instance,
        version: settings.version,
    });
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let addr = listener.local_addr().context("no local address")?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(answer)
        .with_state(identity);
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    });
    Ok(Running { addr, task })
}

/// The answer to every request but `/healthz`.
async fn answer(
    State(me): State<Arc<Identity>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> impl IntoResponse {
    let host = headers
        .get(HOST)
        .map(text)
        .or_else(|| uri.authority().map(|a| a.to_string()));
    let echoed: Map<String, Value> = ECHOED_HEADERS
        .iter()
        .filter_map(|name| Some((name.to_string(), Value::from(text(headers.get(*name)?)))))
        .collect();
    tracing::debug!(%method, %uri, "request");
    let body = json!({
        "service": me.service,
        "instance": me.instance,
        "version": me.version,
        "method": method.as_str(),
        "path": uri.path(),
        "query": uri.query(),
        "host": host,
        "headers": echoed,
    });
    (
        [
            (
                HeaderName::from_static("x-demo-instance"),
                me.instance_header.clone(),
            ),
            (
                HeaderName::from_static("x-demo-version"),
                me.version_header.clone(),
            ),
        ],
        Json(body),
    )
}

/// A header value as text (invalid UTF-8 replaced).
fn text(value: &HeaderValue) -> String {
    String::from_utf8_lossy(value.as_bytes()).into_owned()
}
