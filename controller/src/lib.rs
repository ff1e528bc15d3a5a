//! mesh-router's controller: follows etcd, compiles revision-versioned route
//! tables, pushes them to routers; and the `meshctl` tool's logic.
//!
//! | module | what |
//! | --- | --- |
//! | [`app`] | the controller as one unit: `run(settings, shutdown)` wires sync → compile loop → publisher and status writer, returns a handle with the bound address |
//! | [`store`] | etcd access at the key/value level: atomic multi-put, prefix/range listing at a revision, watches, leases, lease-backed registration |
//! | [`meshctl`] | the `meshctl` command line: `apply`, `validate`, `get`, `delete`, `register` |
//! | [`mirror`] | the controller's copy of the mesh's keys at one revision, and the sync events that change it |
//! | [`metrics`] | the controller's Prometheus metrics |
//! | [`status`] | resource and router status as written to etcd |
//! | [`compile`] | the pure compile step: mirrored keys at one revision → route table, resource statuses, counts; Gateway API precedence |
//! | [`publish`] | the published table, router subscriptions (snapshot, deltas, heartbeats), reports and the fleet view |
//! | [`admin`] | the HTTP listener: the wire paths, `/metrics`, `/live`, `/ready`, `/v1/table`, `/v1/fleet` |
//! | [`sync`] | etcd → controller: one consistent read, then the watch; reconnects, resyncs after compaction |
//! | [`status_writer`] | controller → etcd: resource statuses, and router statuses on the controller's lease |
//! | [`host`] | the default instance id (`<hostname>:<port>`) of controllers and routers |
//! | [`client`] | the router's side of the wire: subscribe, report, follow a table |

pub mod admin;
pub mod app;
pub mod client;
pub mod compile;
pub mod host;
pub mod meshctl;
pub mod metrics;
pub mod mirror;
pub mod publish;
pub mod status;
pub mod status_writer;
pub mod store;
pub mod sync;
