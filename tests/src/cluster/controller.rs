//! A `mesh-controller` process of a test cluster.

use super::process::{start_on_free_ports, Process, Restart};
use crate::binaries::{self, Binary};
use anyhow::{bail, Context as _};
use mesh_testkit::{free_port, Signal};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// How long a controller may take to become ready (before patience).
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A controller process; killed on drop.
#[derive(Debug)]
pub struct ControllerProcess {
    name: String,
    addr: SocketAddr,
    etcd: String,
    prefix: String,
    log: PathBuf,
    process: Option<Process>,
}

impl Restart for ControllerProcess {
    async fn restart(&mut self) -> anyhow::Result<()> {
        ControllerProcess::restart(self).await
    }

    fn exited(&mut self) -> bool {
        self.process.as_mut().is_some_and(|p| p.exited().is_some())
    }
}

impl ControllerProcess {
    /// Starts `mesh-controller` on a free port and waits until `/ready`
    /// answers 200 (it has read etcd and compiled a table). A port taken
    /// between choosing and binding means another try on a new port.
    pub async fn start(name: &str, etcd: &str, prefix: &str, log: PathBuf) -> anyhow::Result<Self> {
        start_on_free_ports(name, || ControllerProcess {
            name: name.to_owned(),
            addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
            etcd: etcd.to_owned(),
            prefix: prefix.to_owned(),
            log: log.clone(),
            process: None,
        })
        .await
    }

    /// Starts the process again (same port, id and log) after
    /// [`ControllerProcess::kill`] and waits until it is ready.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        if self.is_running() {
            bail!("{} is already running", self.name);
        }
        let mut cmd = Command::new(binaries::path(Binary::Controller)?);
        cmd.arg("--etcd")
            .arg(&self.etcd)
            .arg("--prefix")
            .arg(&self.prefix)
            .arg("--listen")
            .arg(self.addr.to_string())
            .arg("--id")
            .arg(&self.name);
        self.process = Some(Process::spawn(&self.name, cmd, &self.log)?);
        self.wait_ready().await
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let addr = self.addr;
        self.process
            .as_mut()
            .context("not started")?
            .wait_ready(addr, READY_TIMEOUT)
            .await
    }

    /// Its id in status keys and its name in logs (`controller-1`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where routers subscribe.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://addr`: what routers are given.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Whether the process runs.
    pub fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(Process::is_running)
    }

    /// SIGKILL: the controller dies without a word to anyone.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(p) = self.process.as_mut() {
            p.kill()?;
        }
        Ok(())
    }

    /// SIGTERM and wait for the exit.
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
