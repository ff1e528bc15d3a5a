//! `mesh-router`: the data plane. A pingora proxy that serves the route
//! table pushed by controllers, swaps it live, and routes by Gateway API
//! rules.
//!
//! # Layout
//! | module | what |
//! | --- | --- |
//! | [`balance`] | load balancing per Service: weighted round robin, least request (power of two choices), ring hash |
//! | [`filters`] | Gateway API filters as pure functions: header modifiers, redirects, URL rewrites, mirror sampling |
//! | [`settings`] | what a router needs to run: listeners, controllers, state dir, threads, shutdown timing |
//! | [`app`] | the router as one unit: `run(settings, initial table, shutdown)` starts the pingora proxy and the admin listener, returns a handle with the bound addresses |
//! | [`routes`] | the live table: an `ArcSwap` of the served [`snapshot::Snapshot`], `swap(table)`, `serving()` |
//! | [`snapshot`] | one table ready to serve: route index, per-service balancers and peers, per-rule weighted backends, metric handles |
//! | [`h1`] | the fast path: the router's own HTTP/1.1 proxy loop for plain connections (lookup, redirects, balancing, timeouts, retries, forwarding headers, per-thread upstream pool); hands everything else to [`proxy`] |
//! | [`proxy`] | the pingora `ProxyHttp` implementation: lookup, filters, balancing, timeouts, retries, mirrors, error answers (TLS, HTTP/2, and what the fast path leaves to it) |
//! | [`access_log`] | the access log: one JSON line per request, written by a thread of its own, never waited for |
//! | [`admin`] | the admin listener: `/metrics`, `/live`, `/ready`, `/table` |
//! | [`sync`] | following the controllers: subscribe, apply and report each table, fail over, save the last good table in the state dir and serve it at start |
//! | [`tls`] | the TLS listener: certificate and key files checked at start, ALPN `h2` and `http/1.1` |
//! | [`metrics`] | the Prometheus metrics; per route and service handles resolved when a table is built |

pub mod access_log;
pub mod admin;
pub mod app;
pub mod balance;
pub mod filters;
pub mod h1;
pub mod metrics;
pub mod proxy;
pub mod routes;
pub mod settings;
pub mod snapshot;
pub mod sync;
pub mod tls;
