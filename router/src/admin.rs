//! The admin listener (`--admin`).
//!
//! | path | answer |
//! | --- | --- |
//! | `GET /metrics` | Prometheus text |
//! | `GET /live` | 200 `live` |
//! | `GET /ready` | 200 `ready: serving revision R` once a table is served, else 503 |
//! | `GET /table` | the served table as JSON (`{"revision":R,"parts":[...]}`), 503 if none |

use crate::routes::Routes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::future::Future;
use std::sync::Arc;

/// Every route of the admin listener.
pub fn router(routes: Arc<Routes>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/live", get(|| async { "live\n" }))
        .route("/ready", get(ready))
        .route("/table", get(table))
        .with_state(routes)
}

/// Serves the admin endpoints on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    routes: Arc<Routes>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(routes))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn metrics(State(routes): State<Arc<Routes>>) -> Response {
    match routes.metrics().render() {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

async fn ready(State(routes): State<Arc<Routes>>) -> Response {
    match routes.serving() {
        Some(s) => (
            StatusCode::OK,
            format!("ready: serving revision {}\n", s.revision),
        )
            .into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "no table yet\n").into_response(),
    }
}

async fn table(State(routes): State<Arc<Routes>>) -> Response {
    let Some(snapshot) = routes.snapshot() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no table yet\n").into_response();
    };
    match serde_json::to_string(snapshot.table()) {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}
