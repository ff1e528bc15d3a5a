//! A `mesh-router` process of a test cluster.

use super::process::{start_on_free_ports, Process, Restart};
use crate::binaries::{self, Binary};
use crate::http::{self, Answer};
use anyhow::{bail, Context as _};
use mesh_testkit::{free_ports, Signal};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// How long a router may take to serve its first table (before patience).
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A router process with its own state dir; killed on drop.
#[derive(Debug)]
pub struct RouterProcess {
    name: String,
    listen: SocketAddr,
    admin: SocketAddr,
    controllers: Vec<String>,
    state_dir: PathBuf,
    log: PathBuf,
    process: Option<Process>,
}

impl Restart for RouterProcess {
    async fn restart(&mut self) -> anyhow::Result<()> {
        RouterProcess::restart(self).await
    }

    fn exited(&mut self) -> bool {
        self.process.as_mut().is_some_and(|p| p.exited().is_some())
    }
}

impl RouterProcess {
    /// Starts `mesh-router` on free ports following `controllers` and waits
    /// until it serves a table (`/ready` answers 200).
    pub async fn start(
        name: &str,
        controllers: Vec<String>,
        state_dir: PathBuf,
        log: PathBuf,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&state_dir)
            .with_context(|| format!("cannot create {}", state_dir.display()))?;
        start_on_free_ports(name, || {
            let ports = free_ports(2);
            RouterProcess {
                name: name.to_owned(),
                listen: SocketAddr::from(([127, 0, 0, 1], ports[0])),
                admin: SocketAddr::from(([127, 0, 0, 1], ports[1])),
                controllers: controllers.clone(),
                state_dir: state_dir.clone(),
                log: log.clone(),
                process: None,
            }
        })
        .await
    }

    /// Starts the process again with the same ports, controllers and state
    /// dir (after [`RouterProcess::kill`]) and waits until it serves a table.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        if self.is_running() {
            bail!("{} is already running", self.name);
        }
        let mut cmd = Command::new(binaries::path(Binary::Router)?);
        cmd.arg("--controllers")
            .arg(self.controllers.join(","))
            .arg("--listen")
            .arg(self.listen.to_string())
            .arg("--admin")
            .arg(self.admin.to_string())
            .arg("--state-dir")
            .arg(&self.state_dir)
            .arg("--id")
            .arg(&self.name)
            .arg("--threads")
            .arg("1")
            .arg("--grace-period")
            .arg("1s");
        self.process = Some(Process::spawn(&self.name, cmd, &self.log)?);
        self.wait_ready().await
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let addr = self.admin;
        self.process
            .as_mut()
            .context("not started")?
            .wait_ready(addr, READY_TIMEOUT)
            .await
    }

    /// Its id (`router-1`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The proxy listener: where services send their calls.
    pub fn addr(&self) -> SocketAddr {
        self.listen
    }

    /// The admin listener: `/metrics`, `/live`, `/ready`, `/table`.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
    }

    /// Where it keeps its last good table.
    pub fn state_dir(&self) -> &std::path::Path {
        &self.state_dir
    }

    /// Whether the process runs.
    pub fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(Process::is_running)
    }

    /// `GET path` with `Host: host` through this router.
    pub async fn get(&self, host: &str, path: &str) -> anyhow::Result<Answer> {
        http::get(self.listen, host, path).await
    }

    /// The revision of the table it serves (`None`: no table yet).
    pub async fn revision(&self) -> anyhow::Result<Option<i64>> {
        served_revision(self.admin).await
    }

    /// The value of the metric sample whose line starts with `series`
    /// (a name, or a name with labels such as `m{a="b"}`), from `/metrics`.
    pub async fn metric(&self, series: &str) -> anyhow::Result<Option<f64>> {
        let a = http::get(self.admin, "localhost", "/metrics").await?;
        anyhow::ensure!(a.status == 200, "/metrics answered {}", a.status);
        Ok(a.body.lines().find_map(|line| {
            let rest = line.strip_prefix(series)?;
            let value = rest.strip_prefix(' ')?;
            value.trim().parse().ok()
        }))
    }

    /// SIGKILL: the router dies as in a crash.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(p) = self.process.as_mut() {
            p.kill()?;
        }
        Ok(())
    }

    /// SIGTERM (drain) and wait for the exit.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(p) = self.process.as_mut() {
            let status = p.stop_with(Signal::Term, Duration::from_secs(15)).await?;
            if !status.success() {
                bail!("{} exited with {status} on SIGTERM", self.name);
            }
        }
        Ok(())
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        mesh_testkit::log_tail(&self.log, 40)
    }
}

/// The revision a router serves according to its admin `/ready`
/// (`ready: serving revision R`); `None` while it has no table.
pub(crate) async fn served_revision(admin: SocketAddr) -> anyhow::Result<Option<i64>> {
    let a = http::get(admin, "localhost", "/ready").await?;
    if a.status != 200 {
        return Ok(None);
    }
    let rev = a
        .body
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|r| r.parse().ok())
        .with_context(|| format!("unexpected /ready answer {:?}", a.body))?;
    Ok(Some(rev))
}
