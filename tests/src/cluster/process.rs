//! One project binary running as a child process of a test, with its output
//! in a log file.
//!
//! The process is killed (SIGKILL) and reaped on drop; when that happens
//! while the test panics, the last lines of its log are printed to stderr so
//! a failing test shows what the process said.

use anyhow::Context as _;
use mesh_testkit::{log_tail as tail, open_log, read_log, ChildGuard, Signal};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

/// Lines of a log printed when a test panics.
const TAIL_LINES: usize = 40;

/// A child process of the cluster and its log file.
#[derive(Debug)]
pub struct Process {
    name: String,
    log: PathBuf,
    child: Option<ChildGuard>,
}

impl Process {
    /// Spawns `cmd` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> anyhow::Result<Process> {
        let out = open_log(log)?;
        let err = out.try_clone().context("cannot share the log file")?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            );
        let child = ChildGuard::spawn(name, &mut cmd)?;
        Ok(Process {
            name: name.to_owned(),
            log: log.to_path_buf(),
            child: Some(child),
        })
    }

    /// The name it was started with (`controller-1`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its process id, while running.
    pub fn pid(&mut self) -> Option<u32> {
        self.is_running()
            .then(|| self.child.as_ref().map(ChildGuard::pid))
            .flatten()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(ChildGuard::is_running)
    }

    /// Its exit status when it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// SIGKILL, then reap: as a crash or an OOM kill.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child
                .kill()
                .with_context(|| format!("cannot kill {}", self.name))?;
        }
        Ok(())
    }

    /// Sends `signal` and waits up to `timeout` for the exit.
    pub async fn stop_with(
        &mut self,
        signal: Signal,
        timeout: Duration,
    ) -> anyhow::Result<ExitStatus> {
        let child = self
            .child
            .as_mut()
            .with_context(|| format!("{} is not running", self.name))?;
        child.signal(signal)?;
        let status = child
            .wait_timeout_async(mesh_testkit::scaled(timeout))
            .await?
            .with_context(|| {
                format!(
                    "{} did not exit within {timeout:?} of SIG{signal:?}",
                    self.name
                )
            })?;
        self.child = None;
        Ok(status)
    }

    /// The log so far.
    pub fn log(&self) -> String {
        read_log(&self.log)
    }

    /// Polls `GET /ready` at `addr` until it answers 200; gives up at once
    /// when the process exits, with the end of its log.
    pub async fn wait_ready(
        &mut self,
        addr: std::net::SocketAddr,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let name = self.name.clone();
        let log = self.log.clone();
        mesh_testkit::eventually(&format!("{name} at {addr} to be ready"), timeout, || {
            let exited = self.exited();
            let name = &name;
            async move {
                if let Some(status) = exited {
                    // Not worth waiting for: stop polling at once.
                    return Ok(Err(anyhow::anyhow!("{name} exited ({status})")));
                }
                let a = crate::http::get(addr, "localhost", "/ready").await?;
                anyhow::ensure!(a.status == 200, "/ready: {} {}", a.status, a.body.trim());
                Ok::<_, anyhow::Error>(Ok(()))
            }
        })
        .await?
        .with_context(|| {
            format!(
                "{name} failed to start; its log:\n{}",
                tail(&log, TAIL_LINES)
            )
        })
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- last lines of {} ({}) ---\n{}\n--- end of {} ---",
                self.name,
                self.log.display(),
                self.log_tail(TAIL_LINES),
                self.name
            );
        }
        // ChildGuard's drop kills and reaps.
        self.child.take();
    }
}

/// A cluster process started on ports chosen before it binds them.
pub(crate) trait Restart {
    /// Starts the process and waits until it is ready.
    async fn restart(&mut self) -> anyhow::Result<()>;
    /// Whether the process has exited.
    fn exited(&mut self) -> bool;
}

/// Starts the process `make` describes (on free ports it chooses); when it
/// exits before it is ready (a port taken between choosing and binding), tries
/// again with a new one, up to three times.
pub(crate) async fn start_on_free_ports<T: Restart>(
    name: &str,
    mut make: impl FnMut() -> T,
) -> anyhow::Result<T> {
    let mut last = None;
    for _ in 0..3 {
        let mut me = make();
        match me.restart().await {
            Ok(()) => return Ok(me),
            Err(e) if me.exited() => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("{name} did not start")))
}
