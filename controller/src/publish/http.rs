//! The two wire endpoints: `GET /v1/subscribe?router=<id>` and
//! `POST /v1/report`. Errors answer with a one-line reason.

use super::{PublishError, Publisher};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use mesh_config::wire::{
    check_router_id, Report, REPORT_PATH, STREAM_CONTENT_TYPE, SUBSCRIBE_PATH,
};
use serde::Deserialize;
use tokio::sync::watch;

/// Put in every request's extensions by [`crate::admin::serve`]: turns true
/// when the server shuts down, which ends every subscription stream.
#[derive(Clone)]
pub(crate) struct ServerShutdown(pub(crate) watch::Receiver<bool>);

/// The wire endpoints, served by `publisher`.
pub(crate) fn routes(publisher: Publisher) -> Router {
    Router::new()
        .route(SUBSCRIBE_PATH, get(subscribe))
        .route(REPORT_PATH, post(report))
        .with_state(publisher)
}

#[derive(Deserialize)]
struct SubscribeQuery {
    router: Option<String>,
}

fn bad_request(reason: impl std::fmt::Display) -> Response {
    (StatusCode::BAD_REQUEST, format!("{}\n", one_line(reason))).into_response()
}

/// `reason` on one line.
fn one_line(reason: impl std::fmt::Display) -> String {
    reason.to_string().replace(['\r', '\n'], " ")
}

async fn subscribe(
    State(publisher): State<Publisher>,
    query: Result<Query<SubscribeQuery>, QueryRejection>,
    shutdown: Option<Extension<ServerShutdown>>,
) -> Response {
    let router = match query {
        Ok(Query(SubscribeQuery { router: Some(r) })) => r,
        Ok(Query(SubscribeQuery { router: None })) => {
            return bad_request(format!(
                "missing query parameter `router`: GET {SUBSCRIBE_PATH}?router=<id>"
            ))
        }
        Err(e) => return bad_request(e.body_text()),
    };
    if let Err(reason) = check_router_id(&router) {
        return bad_request(reason);
    }
    tracing::info!(router, "router subscribed");
    let body = publisher.subscribe(router, shutdown.map(|Extension(s)| s.0));
    (
        [
            (header::CONTENT_TYPE, STREAM_CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn report(
    State(publisher): State<Publisher>,
    body: Result<Json<Report>, JsonRejection>,
) -> Response {
    let report = match body {
        Ok(Json(report)) => report,
        Err(e) => return bad_request(e.body_text()),
    };
    match publisher.report(report) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e @ PublishError::InvalidRouterId(_)) => bad_request(e),
        Err(e @ PublishError::NotSubscribed(_)) => {
            (StatusCode::CONFLICT, format!("{}\n", one_line(e))).into_response()
        }
    }
}
