//! `mesh-tests`: whole mesh-router clusters for end-to-end tests.
//!
//! A [`Cluster`] is a real etcd on free ports, the real `mesh-controller` and
//! `mesh-router` binaries as child processes, and in-process demo backends
//! (`mesh-demo`), all on 127.0.0.1:
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use mesh_tests::{Cluster, BackendSpec};
//! let mut cluster = Cluster::builder()
//!     .controllers(2)
//!     .routers(2)
//!     .backends([BackendSpec::new("shop", "shop-1", "v1")])
//!     .start()
//!     .await?;
//! let rev = cluster.put_json("/mesh/services/shop", &serde_json::json!({"kind": "Service", "name": "shop"})).await?;
//! cluster.wait_for_revision(rev).await?;
//! # Ok(()) }
//! ```
//!
//! Everything a cluster started is stopped when it is dropped, also when the
//! test panics; a test that panics prints the last lines of every process's
//! log. Tests wait by polling ([`assert_eventually`]), never by fixed sleeps.
//!
//! | module | what |
//! | --- | --- |
//! | [`binaries`] | finds (and if needed builds) the project's binaries |
//! | [`cluster`] | [`Cluster`], its builder, controller and router processes, backends |
//! | [`http`] | a small HTTP/1.1 client: one request on a fresh connection |
//! | [`resources`] | JSON documents of Services, Endpoints and Routes |

pub mod binaries;
pub mod cluster;
pub mod http;
pub mod resources;

pub use cluster::{
    Backend, BackendSpec, Cluster, ClusterBuilder, ControllerProcess, RouterProcess,
};
pub use http::Answer;
pub use mesh_testkit::{eventually as assert_eventually, scaled, Etcd};
