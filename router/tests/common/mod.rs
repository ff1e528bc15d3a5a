//! Test harness: real backends (small axum servers on free ports), tables
//! built from parts, a router started in-process, and a keep-alive client.
#![allow(dead_code)]

use anyhow::{anyhow, Context};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use mesh_config::spec::ServiceSpec;
use mesh_config::table::{EndpointEntry, Part, PartBody, RoutePart, RouteTable, ServicePart};
use mesh_router::app::{self, Handle};
use mesh_router::settings::Settings;
use serde_json::{json, Value};
use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// What a backend saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub headers: HeaderMap,
}

#[derive(Default)]
struct BackendState {
    name: String,
    hits: AtomicUsize,
    seen: Mutex<Vec<Seen>>,
    /// Statuses to answer next, in order (then 200).
    statuses: Mutex<VecDeque<u16>>,
    delay: Mutex<Duration>,
}

/// A test backend answering every request with its name.
pub struct Backend {
    pub addr: SocketAddr,
    state: Arc<BackendState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

async fn handle(State(s): State<Arc<BackendState>>, req: Request) -> Response {
    s.hits.fetch_add(1, Ordering::SeqCst);
    if let Ok(mut seen) = s.seen.lock() {
        seen.push(Seen {
            method: req.method().to_string(),
            uri: req.uri().to_string(),
            headers: req.headers().clone(),
        });
    }
    let delay = s.delay.lock().map(|d| *d).unwrap_or_default();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let status = s
        .statuses
        .lock()
        .ok()
        .and_then(|mut q| q.pop_front())
        .unwrap_or(200);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    (status, [("x-backend", s.name.clone())], s.name.clone()).into_response()
}

impl Backend {
    pub async fn start(name: &str) -> Backend {
        Backend::start_on(name, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub async fn start_on(name: &str, addr: SocketAddr) -> Backend {
        let state = Arc::new(BackendState {
            name: name.to_owned(),
            ..BackendState::default()
        });
        Backend::serve(state, addr).await
    }

    async fn serve(state: Arc<BackendState>, addr: SocketAddr) -> Backend {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind backend");
        let addr = listener.local_addr().expect("backend addr");
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Backend {
            addr,
            state,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Stops listening and closes every connection.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Serves again on the same address, keeping the counters.
    pub async fn restart(&mut self) {
        self.stop().await;
        let again = Backend::serve(self.state.clone(), self.addr).await;
        *self = again;
    }

    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state
            .seen
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    pub fn last(&self) -> Option<Seen> {
        self.seen().pop()
    }

    /// Answers these statuses to the next requests.
    pub fn answer_next(&self, statuses: &[u16]) {
        if let Ok(mut q) = self.state.statuses.lock() {
            q.extend(statuses.iter().copied());
        }
    }

    pub fn set_delay(&self, d: Duration) {
        if let Ok(mut delay) = self.state.delay.lock() {
            *delay = d;
        }
    }

    pub fn entry(&self, name: &str) -> EndpointEntry {
        endpoint(name, self.addr)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Builds a table from services and routes.
#[derive(Default)]
pub struct TableBuilder {
    parts: Vec<Part>,
}

impl TableBuilder {
    pub fn new() -> TableBuilder {
        TableBuilder::default()
    }

    /// A service with these backends as endpoints, and its implicit hostnames.
    pub fn service(self, name: &str, backends: &[&Backend]) -> TableBuilder {
        self.service_spec(name, json!({}), backends)
    }

    pub fn service_spec(self, name: &str, spec: Value, backends: &[&Backend]) -> TableBuilder {
        let endpoints = backends
            .iter()
            .enumerate()
            .map(|(i, b)| b.entry(&format!("{name}-{i}")))
            .collect();
        self.service_entries(name, spec, endpoints)
    }

    pub fn service_entries(
        mut self,
        name: &str,
        spec: Value,
        endpoints: Vec<EndpointEntry>,
    ) -> TableBuilder {
        let spec: ServiceSpec = serde_json::from_value(spec).expect("service spec");
        self.parts.push(Part::new(PartBody::Service(ServicePart {
            name: name.to_owned(),
            spec,
            endpoints,
            implicit_hostnames: vec![name.to_owned(), format!("{name}.mesh")],
        })));
        self
    }

    /// A route with a Gateway API `HTTPRouteSpec` in JSON.
    pub fn route(mut self, name: &str, spec: Value) -> TableBuilder {
        let created_revision = i64::try_from(self.parts.len()).unwrap_or(0) + 1;
        self.parts.push(Part::new(PartBody::Route(RoutePart {
            name: name.to_owned(),
            created_revision,
            spec: serde_json::from_value(spec).expect("route spec"),
            unresolved_backends: BTreeSet::new(),
        })));
        self
    }

    pub fn build(self, revision: i64) -> RouteTable {
        RouteTable::from_parts(revision, self.parts).expect("table")
    }
}

/// The table entry of an endpoint named `name` listening on `addr`.
pub fn endpoint(name: &str, addr: SocketAddr) -> EndpointEntry {
    EndpointEntry {
        name: name.to_owned(),
        address: addr.ip().to_string(),
        port: addr.port(),
        weight: 1,
        zone: None,
        labels: Default::default(),
        health: Default::default(),
    }
}

/// A router running in-process; stops on drop.
pub struct Router {
    pub handle: Option<Handle>,
    stop: Option<oneshot::Sender<()>>,
}

impl Router {
    pub async fn start(table: RouteTable) -> Router {
        Router::start_with(Settings::local(), Some(table)).await
    }

    pub async fn start_with(settings: Settings, table: Option<RouteTable>) -> Router {
        let (tx, rx) = oneshot::channel::<()>();
        let handle = app::run(settings, table, async move {
            let _ = rx.await;
        })
        .await
        .expect("router starts");
        Router {
            handle: Some(handle),
            stop: Some(tx),
        }
    }

    pub fn handle(&self) -> &Handle {
        self.handle.as_ref().expect("running")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.handle().listen_addr())
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.handle().admin_addr())
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.handle.take() {
            Some(h) => h.wait().await.map_err(|e| anyhow!(e)),
            None => Ok(()),
        }
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// An answer as the client saw it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn mesh_error(&self) -> Option<&str> {
        self.header("x-mesh-error")
    }
}

/// A keep-alive HTTP/1.1 client.
#[derive(Clone)]
pub struct Http {
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl Http {
    pub fn new() -> Http {
        Http {
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub async fn get(&self, url: &str, host: &str) -> anyhow::Result<Answer> {
        self.request("GET", url, host, &[]).await
    }

    pub async fn request(
        &self,
        method: &str,
        url: &str,
        host: &str,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Answer> {
        let mut req = hyper::Request::builder().method(method).uri(url);
        if !host.is_empty() {
            req = req.header("host", host);
        }
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        let req = req.body(Empty::new()).context("request")?;
        let resp = tokio::time::timeout(Duration::from_secs(20), self.client.request(req))
            .await
            .context("no answer within 20 s")??;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_test_writer()
        .try_init();
}
