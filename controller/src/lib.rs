//! mesh-router's controller: etcd access, and the `meshctl` tool's logic.
//!
//! | module | what |
//! | --- | --- |
//! | [`store`] | etcd access at the key/value level: atomic multi-put, prefix listing, lease-backed registration |
//! | [`meshctl`] | the `meshctl` command line: `apply`, `validate`, `get`, `delete`, `register` |

pub mod meshctl;
pub mod store;
