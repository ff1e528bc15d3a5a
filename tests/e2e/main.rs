//! End-to-end tests: whole clusters of real processes (etcd, the
//! `mesh-controller` and `mesh-router` binaries, `meshctl`) with demo
//! backends, all on 127.0.0.1. See tests/README.md for running and
//! debugging them.

mod controller_failover;
mod invalid_resource;
mod raw_json_routes;
mod registration;
mod state_dir;
