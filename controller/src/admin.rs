//! The controller's HTTP listener (`--listen`): the wire endpoints routers
//! use, and the admin endpoints.
//!
//! | path | answer |
//! | --- | --- |
//! | `GET /v1/subscribe?router=<id>` | the router's stream (see [`crate::publish`]) |
//! | `POST /v1/report` | a router's report: 204, 400 (bad report), 409 (no open stream) |
//! | `GET /metrics` | Prometheus text |
//! | `GET /live` | 200 `live` |
//! | `GET /ready` | 200 `ready: serving revision R`, or 503 with why |
//! | `GET /v1/table` | the published table as JSON (`{"revision":R,"parts":[...]}`), 503 if none |
//! | `GET /v1/fleet` | the fleet view as JSON: `{"controller":..,"routers":[RouterStatus...]}` |

use crate::metrics::Metrics;
use crate::publish::{self, Publisher, ServerShutdown, TableRef};
use crate::status::RouterStatus;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Serialize;
use std::future::Future;
use tokio::sync::watch;

/// What `/ready` needs to know besides the published table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Readiness {
    /// Whether the etcd watch is up.
    pub etcd_connected: bool,
    /// The revision of the table last compiled; `/ready` names it, or the
    /// published table's revision when this is `None`.
    pub table_revision: Option<i64>,
}

#[derive(Clone)]
struct AdminState {
    publisher: Publisher,
    metrics: Metrics,
    readiness: watch::Receiver<Readiness>,
}

/// Every route of the listener.
pub fn router(
    publisher: Publisher,
    metrics: Metrics,
    readiness: watch::Receiver<Readiness>,
) -> Router {
    let state = AdminState {
        publisher: publisher.clone(),
        metrics,
        readiness,
    };
    let admin = Router::new()
        .route("/metrics", get(metrics_text))
        .route("/live", get(|| async { "live\n" }))
        .route("/ready", get(ready))
        .route("/v1/table", get(table))
        .route("/v1/fleet", get(fleet))
        .with_state(state);
    publish::routes(publisher).merge(admin)
}

/// Serves `app` on `listener` until `shutdown` completes; then stops
/// accepting, ends every subscription stream and returns once the open
/// connections are done.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let app = app.layer(Extension(ServerShutdown(stop_rx)));
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Streams also end when the sender is dropped right after.
            stop_tx.send_replace(true);
        })
        .await
}

async fn metrics_text(State(s): State<AdminState>) -> Response {
    match s.metrics.render() {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

/// The `/ready` answer: status and one line.
pub fn readiness_answer(published: Option<i64>, readiness: &Readiness) -> (StatusCode, String) {
    match published {
        None if readiness.etcd_connected => (
            StatusCode::SERVICE_UNAVAILABLE,
            "no table compiled yet".to_owned(),
        ),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "no table compiled yet; etcd unreachable".to_owned(),
        ),
        Some(published) => {
            let revision = readiness.table_revision.unwrap_or(published);
            if readiness.etcd_connected {
                (
                    StatusCode::OK,
                    format!("ready: serving revision {revision}"),
                )
            } else {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("etcd unreachable; serving last table at revision {revision}"),
                )
            }
        }
    }
}

async fn ready(State(s): State<AdminState>) -> Response {
    let published = s.publisher.current().map(|t| t.revision);
    let readiness = s.readiness.borrow().clone();
    let (status, line) = readiness_answer(published, &readiness);
    (status, format!("{line}\n")).into_response()
}

async fn table(State(s): State<AdminState>) -> Response {
    match s.publisher.current() {
        Some(table) => (
            [(header::CONTENT_TYPE, "application/json")],
            publish::json_body(TableRef(table)),
        )
            .into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "no table compiled yet\n").into_response(),
    }
}

/// The JSON form of `/v1/fleet`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FleetJson {
    controller: String,
    routers: Vec<RouterStatus>,
}

async fn fleet(State(s): State<AdminState>) -> Json<FleetJson> {
    let routers = s.publisher.fleet().borrow().values().cloned().collect();
    Json(FleetJson {
        controller: s.publisher.controller_id().to_owned(),
        routers,
    })
}
