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
//! | [`metrics`] | the Prometheus metrics; per route and service handles resolved when a table is built |

pub mod balance;
pub mod filters;
pub mod metrics;
pub mod settings;
