//! [`Cluster`]: etcd, controllers, routers and backends of one test.
//!
//! ```text
//!  test ──put──▶ etcd ◀──watch── controller-1..n ──push──▶ router-1..m ──▶ backends
//! ```
//!
//! etcd runs on free ports with a temporary data dir ([`Etcd`]); each
//! controller and router is the real binary as a child process with its log
//! in the cluster's temporary directory (each router also keeps its state dir
//! there); backends are `mesh-demo` servers in the test's process. By
//! default every backend is written to etcd as an Endpoint of its Service
//! (and the Service itself) before the controllers start, so a test only
//! adds Routes. Dropping the cluster kills every process (routers first) and
//! removes the directory; `MESH_TEST_KEEP=1` keeps the directory (its path
//! is printed) for reading the logs after a test.

mod backend;
mod controller;
pub mod process;
mod router;

pub use backend::{Backend, BackendSpec};
pub use controller::ControllerProcess;
pub use process::Process;
pub use router::RouterProcess;

use crate::binaries::{self, Binary};
use crate::http::Answer;
use crate::resources;
use anyhow::{ensure, Context as _};
use etcd_client::Client;
use mesh_testkit::{eventually, Etcd};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tempfile::TempDir;

/// How long changes may take to reach every router (before patience).
pub const CONVERGE_TIMEOUT: Duration = Duration::from_secs(20);

/// Environment variable: keep the cluster's directory (logs, state dirs).
pub const KEEP_VAR: &str = "MESH_TEST_KEEP";

/// How to build a [`Cluster`]; see [`Cluster::builder`].
#[derive(Debug, Clone)]
pub struct ClusterBuilder {
    controllers: usize,
    routers: usize,
    backends: Vec<BackendSpec>,
    register_backends: bool,
    prefix: String,
}

impl ClusterBuilder {
    /// Number of controllers (default 1).
    pub fn controllers(mut self, n: usize) -> Self {
        self.controllers = n;
        self
    }

    /// Number of routers (default 1). Each follows every controller, in
    /// order: the first is preferred, the others are failovers.
    pub fn routers(mut self, n: usize) -> Self {
        self.routers = n;
        self
    }

    /// Backends to start (default none).
    pub fn backends(mut self, backends: impl IntoIterator<Item = BackendSpec>) -> Self {
        self.backends.extend(backends);
        self
    }

    /// Whether the backends are written to etcd as Services and Endpoints
    /// at start (default true).
    pub fn register_backends(mut self, yes: bool) -> Self {
        self.register_backends = yes;
        self
    }

    /// The mesh's key prefix in etcd (default `/mesh`).
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.trim_end_matches('/').to_owned();
        self
    }

    /// Starts everything and returns once every controller and router is
    /// ready and every router serves the revision written at start.
    pub async fn start(self) -> anyhow::Result<Cluster> {
        ensure!(
            self.controllers >= 1 || self.routers == 0,
            "routers need a controller"
        );
        // The binaries are built (or found) before anything is started.
        binaries::path(Binary::Controller)?;
        let dir = tempfile::Builder::new()
            .prefix("mesh-cluster-")
            .tempdir()
            .context("cannot create the cluster directory")?;
        let etcd = Etcd::start().await?;
        let client = etcd.client().await?;
        let mut cluster = Cluster {
            routers: Vec::new(),
            controllers: Vec::new(),
            backends: Vec::new(),
            client,
            prefix: self.prefix.clone(),
            etcd,
            dir,
        };
        let mut revision = 0;
        for spec in self.backends {
            let backend = Backend::start(spec).await?;
            if self.register_backends {
                let s = backend.spec().clone();
                cluster
                    .put_json(
                        &cluster.key(&format!("services/{}", s.service)),
                        &resources::service(&s.service),
                    )
                    .await?;
                revision = cluster
                    .put_json(
                        &cluster.key(&format!("endpoints/{}/{}", s.service, s.instance)),
                        &resources::endpoint(&s.service, &s.instance, backend.port()),
                    )
                    .await?;
            }
            cluster.backends.push(backend);
        }
        let etcd_url = cluster.etcd.endpoint();
        for i in 1..=self.controllers {
            let name = format!("controller-{i}");
            let log = cluster.dir.path().join(format!("{name}.log"));
            let c = ControllerProcess::start(&name, &etcd_url, &cluster.prefix, log).await?;
            cluster.controllers.push(c);
        }
        let urls: Vec<String> = cluster.controllers.iter().map(|c| c.url()).collect();
        for i in 1..=self.routers {
            let name = format!("router-{i}");
            let log = cluster.dir.path().join(format!("{name}.log"));
            let state = cluster.dir.path().join(format!("{name}-state"));
            let r = RouterProcess::start(&name, urls.clone(), state, log).await?;
            cluster.routers.push(r);
        }
        if revision > 0 {
            cluster.wait_for_revision(revision).await?;
        }
        Ok(cluster)
    }
}

/// A running test cluster; everything stops on drop.
pub struct Cluster {
    // Dropped in this order: routers, controllers, backends, etcd, then the
    // directory with the logs.
    routers: Vec<RouterProcess>,
    controllers: Vec<ControllerProcess>,
    backends: Vec<Backend>,
    client: Client,
    prefix: String,
    etcd: Etcd,
    dir: TempDir,
}

impl Cluster {
    /// A builder: one controller, one router, no backends, prefix `/mesh`.
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder {
            controllers: 1,
            routers: 1,
            backends: Vec::new(),
            register_backends: true,
            prefix: "/mesh".to_owned(),
        }
    }

    /// The etcd server.
    pub fn etcd(&self) -> &Etcd {
        &self.etcd
    }

    /// A client of the cluster's etcd (clones share one connection).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The key prefix (`/mesh`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `<prefix>/<path>`, e.g. `key("routes/shop")`.
    pub fn key(&self, path: &str) -> String {
        format!("{}/{}", self.prefix, path.trim_start_matches('/'))
    }

    /// The cluster's directory: logs (`<name>.log`) and state dirs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `value` as JSON under `key`; returns the etcd revision.
    pub async fn put_json(&self, key: &str, value: &Value) -> anyhow::Result<i64> {
        self.put_raw(key, &value.to_string()).await
    }

    /// Writes `text` as is under `key`; returns the etcd revision.
    pub async fn put_raw(&self, key: &str, text: &str) -> anyhow::Result<i64> {
        let resp = self
            .client()
            .put(key, text, None)
            .await
            .with_context(|| format!("put {key}"))?;
        Ok(resp.header().context("put without a header")?.revision())
    }

    /// Deletes `key`; returns the etcd revision.
    pub async fn delete(&self, key: &str) -> anyhow::Result<i64> {
        let resp = self
            .client()
            .delete(key, None)
            .await
            .with_context(|| format!("delete {key}"))?;
        Ok(resp.header().context("delete without a header")?.revision())
    }

    /// The value under `key` as JSON, if any.
    pub async fn get_json(&self, key: &str) -> anyhow::Result<Option<Value>> {
        let resp = self
            .client()
            .get(key, None)
            .await
            .with_context(|| format!("get {key}"))?;
        resp.kvs()
            .first()
            .map(|kv| {
                serde_json::from_slice(kv.value()).with_context(|| format!("{key} is not JSON"))
            })
            .transpose()
    }

    /// The status a controller wrote for a resource (`kind`: `routes`,
    /// `services`, `endpoints`; endpoints are named `<service>/<name>`).
    pub async fn resource_status(&self, kind: &str, name: &str) -> anyhow::Result<Option<Value>> {
        self.get_json(&self.key(&format!("status/resources/{kind}/{name}")))
            .await
    }

    /// The controllers, in start order.
    pub fn controllers(&mut self) -> &mut [ControllerProcess] {
        &mut self.controllers
    }

    /// Controller `i` (0-based).
    pub fn controller(&mut self, i: usize) -> &mut ControllerProcess {
        &mut self.controllers[i]
    }

    /// The routers, in start order.
    pub fn routers(&self) -> &[RouterProcess] {
        &self.routers
    }

    /// Router `i` (0-based).
    pub fn router(&mut self, i: usize) -> &mut RouterProcess {
        &mut self.routers[i]
    }

    /// Backend `i` (0-based).
    pub fn backend(&self, i: usize) -> &Backend {
        &self.backends[i]
    }

    /// Waits until every running router serves revision `revision` or a
    /// later one. A write that leaves the table as it was (a rejected
    /// resource, a value written again unchanged) publishes no new table:
    /// waiting for its revision times out.
    pub async fn wait_for_revision(&mut self, revision: i64) -> anyhow::Result<()> {
        let running = self.running_routers();
        eventually(
            &format!("every router to serve revision {revision}"),
            CONVERGE_TIMEOUT,
            || async {
                for r in &running {
                    let served = r.revision().await?;
                    ensure!(
                        served.is_some_and(|s| s >= revision),
                        "{} serves revision {served:?}",
                        r.name()
                    );
                }
                Ok::<_, anyhow::Error>(())
            },
        )
        .await
    }

    /// Waits until `GET path` with `Host: host` through every running
    /// router passes `check`.
    pub async fn wait_served<F>(&mut self, host: &str, path: &str, check: F) -> anyhow::Result<()>
    where
        F: Fn(&Answer) -> anyhow::Result<()>,
    {
        let running = self.running_routers();
        eventually(
            &format!("every router to serve {host}{path} as expected"),
            CONVERGE_TIMEOUT,
            || async {
                for r in &running {
                    let a = r.get(host, path).await?;
                    check(&a).with_context(|| format!("{}: {} {}", r.name(), a.status, a.body))?;
                }
                Ok::<_, anyhow::Error>(())
            },
        )
        .await
    }

    fn running_routers(&mut self) -> Vec<RouterView> {
        self.routers
            .iter_mut()
            .filter_map(|r| r.is_running().then(|| RouterView::of(r)))
            .collect()
    }

    /// A `meshctl` command aimed at this cluster's etcd and prefix.
    pub fn meshctl(&self) -> anyhow::Result<Command> {
        let mut cmd = Command::new(binaries::path(Binary::Meshctl)?);
        cmd.env("MESH_ETCD", self.etcd.endpoint())
            .env("MESH_PREFIX", &self.prefix);
        Ok(cmd)
    }

    /// Runs `cmd` as a process of the cluster: logged to `<name>.log`,
    /// killed on drop.
    pub fn spawn(&self, name: &str, cmd: Command) -> anyhow::Result<Process> {
        Process::spawn(name, cmd, &self.dir.path().join(format!("{name}.log")))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::env::var_os(KEEP_VAR).is_some_and(|v| v != "0") {
            let kept = std::mem::replace(
                &mut self.dir,
                match TempDir::new() {
                    Ok(d) => d,
                    Err(_) => return,
                },
            );
            eprintln!("cluster directory kept: {}", kept.keep().display());
        }
    }
}

/// What polling needs of a router, without borrowing the cluster.
#[derive(Debug, Clone)]
struct RouterView {
    name: String,
    listen: std::net::SocketAddr,
    admin: std::net::SocketAddr,
}

impl RouterView {
    fn of(r: &RouterProcess) -> RouterView {
        RouterView {
            name: r.name().to_owned(),
            listen: r.addr(),
            admin: r.admin_addr(),
        }
    }

    fn name(&self) -> &str {
        &self.name
    }

    async fn get(&self, host: &str, path: &str) -> anyhow::Result<Answer> {
        crate::http::get(self.listen, host, path).await
    }

    async fn revision(&self) -> anyhow::Result<Option<i64>> {
        router::served_revision(self.admin).await
    }
}
