//! mesh-router's controller: etcd access, and the `meshctl` tool's logic.
//!
//! | module | what |
//! | --- | --- |
//! | [`store`] | etcd access at the key/value level: atomic multi-put, prefix listing, lease-backed registration |
//! | [`meshctl`] | the `meshctl` command line: `apply`, `validate`, `get`, `delete`, `register` |
//! | [`mirror`] | the controller's copy of the mesh's keys at one revision, and the sync events that change it |
//! | [`metrics`] | the controller's Prometheus metrics |
//! | [`status`] | resource and router status as written to etcd |

pub mod meshctl;
pub mod metrics;
pub mod mirror;
pub mod status;
pub mod store;
