//! Retries: the Gateway API `retry` policy (codes, attempts, backoff) on top
//! of pingora's retry loop.
//!
//! pingora retries a request by calling `upstream_peer` again whenever the
//! error of an attempt is marked retryable (`Error::set_retry(true)`), at
//! most `max_retries` times (the app sets 16). Errors reach the proxy in two
//! places: `fail_to_connect` (no connection: nothing was sent, any request
//! can go elsewhere) and `error_while_proxy` (after connecting). A *status*
//! the rule wants retried is not an error for pingora, so
//! `upstream_response_filter` turns it into one: it runs when the response
//! head arrives, before anything is written downstream, and an error it
//! returns ends the attempt and goes through `error_while_proxy`, where
//! [`on_error`] keeps it retryable. The upstream connection of that attempt
//! is closed, not reused.
//!
//! | failure | retried when |
//! | --- | --- |
//! | connect failure | attempts left: the rule's `attempts`, or one retry without a policy when the service has another endpoint; deadline not passed |
//! | status in `codes` | the rule has a policy and attempts left; the method is idempotent and the request has no body; deadline not passed |
//! | other errors after connecting | pingora's default: idempotent, body fully buffered, and the error is retryable (e.g. a reused keep-alive connection the endpoint had closed), within the same attempt budget |
//!
//! Each retry goes to another endpoint when there is one (the balancer
//! avoids the endpoints tried), after the policy's backoff (the router's
//! default when the policy sets none; none without a policy). The chosen
//! service does not change between attempts. The request timeout covers
//! every attempt and backoff; the last attempt's answer, whatever its
//! status, is passed on.

use super::Ctx;
use crate::snapshot::Snapshot;
use mesh_config::model::Rule;
use pingora::proxy::Session;
use pingora::Error;
use std::time::Duration;

/// How many attempts a request may make in all: one plus the retries.
pub(crate) fn budget(rule: Option<&Rule>, other_endpoints: bool) -> u32 {
    let retries = rule
        .and_then(|r| r.retry.as_ref())
        .map(|r| r.attempts)
        .unwrap_or(0);
    1 + retries.max(u32::from(other_endpoints))
}

fn time_left(ctx: &Ctx) -> bool {
    ctx.remaining().is_none_or(|r| !r.is_zero())
}

fn idempotent_without_body(session: &mut Session) -> bool {
    session.req_header().method.is_idempotent()
        && session.is_body_empty()
        && !session.retry_buffer_truncated()
}

/// The wait before a retry.
pub(crate) fn backoff(rule: &Rule, default: Duration) -> Duration {
    match &rule.retry {
        Some(r) => r.backoff.unwrap_or(default),
        None => Duration::ZERO,
    }
}

/// Whether a response with `status` is retried; marks the context so that
/// [`on_error`] keeps the error retryable.
pub(super) fn on_status(rule: &Rule, session: &mut Session, ctx: &mut Ctx, status: u16) -> bool {
    let Some(policy) = &rule.retry else {
        return false;
    };
    let retry = policy.codes.contains(&status)
        && ctx.attempts <= policy.attempts
        && time_left(ctx)
        && idempotent_without_body(session);
    ctx.status_retry = retry;
    retry
}

/// Whether a failed connection is retried.
pub(super) fn on_connect_failure(snapshot: &Snapshot, ctx: &Ctx) -> bool {
    let others = ctx
        .service(snapshot)
        .is_some_and(|s| s.balancer.pickable() > 1);
    ctx.attempts < budget(ctx.rule_spec(snapshot), others) && time_left(ctx)
}

/// Whether an error after connecting is retried.
pub(super) fn on_error(
    session: &mut Session,
    ctx: &mut Ctx,
    e: &mut Error,
    client_reused: bool,
) -> bool {
    if std::mem::take(&mut ctx.status_retry) {
        return true;
    }
    if !idempotent_without_body_or_buffered(session) {
        return false;
    }
    e.retry.decide_reuse(client_reused);
    let Some(snapshot) = ctx.snapshot.clone() else {
        return false;
    };
    e.retry() && ctx.attempts < budget(ctx.rule_spec(&snapshot), true) && time_left(ctx)
}

/// pingora's default condition: an idempotent method whose body (if any)
/// is still fully buffered for a resend.
fn idempotent_without_body_or_buffered(session: &mut Session) -> bool {
    session.req_header().method.is_idempotent() && !session.retry_buffer_truncated()
}
