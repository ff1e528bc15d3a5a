//! Test support for mesh-router's integration and end-to-end tests.
//!
//! This crate depends on no project crate; any crate may use it as a
//! dev-dependency.
//!
//! | module | what |
//! | --- | --- |
//! | [`etcd`] | [`Etcd`]: a real single-node etcd on free ports with a temporary data dir; kill, restart, killed on drop |
//! | [`eventually`] | [`eventually()`]: poll a check until it passes or times out; the `MESH_TEST_PATIENCE` multiplier |
//! | [`ports`] | [`free_port`], [`free_ports`]: free TCP ports on 127.0.0.1 |
//! | [`process`] | [`ChildGuard`]: a child process killed and reaped on drop; SIGTERM/SIGINT; log files of child processes ([`open_log`], [`log_tail`]) |
//!
//! Tests synchronise by polling ([`eventually()`]), never by fixed sleeps.

pub mod etcd;
pub mod eventually;
pub mod ports;
pub mod process;

pub use etcd::Etcd;
pub use eventually::{eventually, patience, scaled};
pub use ports::{free_port, free_ports, try_free_ports};
pub use process::{log_tail, open_log, pid_exists, read_log, ChildGuard, Signal};
