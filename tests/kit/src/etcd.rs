//! A real single-node etcd for one test, on free 127.0.0.1 ports.
//!
//! [`Etcd::start`] runs Debian's `etcd` binary (package `etcd-server`; the
//! `MESH_ETCD_BIN` environment variable may name another binary) with a fresh
//! temporary data directory, and returns once the server answers a `status()`
//! and a linearizable read (a leader is elected). If the chosen port was taken
//! in the meantime it starts again on new ports. The server's output goes to
//! `etcd.log` in the temporary directory ([`Etcd::logs`]); its last lines are
//! printed to stderr when an `Etcd` is dropped while the test panics.
//!
//! Dropping an [`Etcd`] kills the process (SIGKILL), reaps it and removes the
//! data directory, also when the test panics.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use etcd_client::{Client, ConnectOptions};
use tempfile::TempDir;

use crate::eventually::scaled;
use crate::ports::try_free_ports;
use crate::process::{log_tail, open_log, read_log, ChildGuard};

/// How long [`Etcd::start`] and [`Etcd::restart`] wait for readiness (before
/// the patience multiplier).
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Environment variable that overrides the etcd binary (default `etcd`).
pub const ETCD_BIN_VAR: &str = "MESH_ETCD_BIN";

const START_ATTEMPTS: usize = 5;
const READY_POLL: Duration = Duration::from_millis(25);
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
const LOG_FILE: &str = "etcd.log";

/// A running (or killed, see [`Etcd::kill`]) etcd server owned by a test.
#[derive(Debug)]
pub struct Etcd {
    child: Option<ChildGuard>,
    client_port: u16,
    peer_port: u16,
    // Declared last so the process is gone before the directory is removed.
    dir: TempDir,
}

/// Why one start attempt failed.
enum StartFailure {
    /// The process exited before it was ready; its log says why.
    Exited(String),
    /// Anything else; not worth retrying.
    Fatal(anyhow::Error),
}

impl Etcd {
    /// Starts etcd on free ports with a fresh data directory and waits until
    /// it serves requests.
    pub async fn start() -> anyhow::Result<Etcd> {
        check_binary()?;
        let mut last_exit = String::new();
        for _ in 0..START_ATTEMPTS {
            let dir = tempfile::Builder::new()
                .prefix("mesh-etcd-")
                .tempdir()
                .context("cannot create a temporary directory for etcd")?;
            let ports = try_free_ports(2).context("cannot find free ports for etcd")?;
            let mut etcd = Etcd {
                child: None,
                client_port: ports[0],
                peer_port: ports[1],
                dir,
            };
            match etcd.launch().await {
                Ok(()) => return Ok(etcd),
                Err(StartFailure::Exited(log)) if log.contains("address already in use") => {
                    last_exit = log;
                }
                Err(StartFailure::Exited(log)) => {
                    bail!("etcd exited before it was ready; its output:\n{log}")
                }
                Err(StartFailure::Fatal(e)) => return Err(e),
            }
        }
        bail!("etcd could not bind free ports in {START_ATTEMPTS} attempts; last output:\n{last_exit}")
    }

    /// The client URL, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// The client port.
    pub fn client_port(&self) -> u16 {
        self.client_port
    }

    /// The peer port.
    pub fn peer_port(&self) -> u16 {
        self.peer_port
    }

    /// The data directory (kept across [`Etcd::restart`]).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The file that receives etcd's stdout and stderr.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join(LOG_FILE)
    }

    /// Everything etcd has written so far (all runs).
    pub fn logs(&self) -> String {
        read_log(&self.log_path())
    }

    /// The process id while etcd runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(ChildGuard::pid)
    }

    /// Whether the process is running.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(ChildGuard::is_running)
    }

    /// A new client for this server, with connect and request timeouts so a
    /// test against a killed server fails instead of hanging.
    pub async fn client(&self) -> anyhow::Result<Client> {
        let options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(2))
            .with_timeout(Duration::from_secs(5));
        Client::connect([self.endpoint()], Some(options))
            .await
            .with_context(|| format!("cannot connect to etcd at {}", self.endpoint()))
    }

    /// Kills the server with SIGKILL and reaps it; the data directory stays.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().context("cannot kill etcd")?;
        }
        Ok(())
    }

    /// Starts the server again with the same data directory and ports (killing
    /// it first if it runs) and waits until it serves requests.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill()?;
        match self.launch().await {
            Ok(()) => Ok(()),
            Err(StartFailure::Exited(log)) => {
                bail!("etcd exited during restart; its output:\n{log}")
            }
            Err(StartFailure::Fatal(e)) => Err(e),
        }
    }

    /// Spawns the process and waits for readiness.
    async fn launch(&mut self) -> Result<(), StartFailure> {
        let log = open_log(&self.log_path()).map_err(StartFailure::Fatal)?;
        let err_log = log
            .try_clone()
            .context("cannot duplicate the etcd log handle")
            .map_err(StartFailure::Fatal)?;
        let log_start = read_log(&self.log_path()).len();
        let client_url = self.endpoint();
        let peer_url = format!("http://127.0.0.1:{}", self.peer_port);
        let mut cmd = Command::new(etcd_bin());
        cmd.arg("--name")
            .arg("mesh-test")
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("mesh-test={peer_url}")])
            .args(["--initial-cluster-state", "new"])
            .args(["--logger", "zap", "--log-outputs", "stderr"])
            .args(["--log-level", "warn"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err_log);
        let child = ChildGuard::spawn("etcd", &mut cmd)
            .context("cannot start etcd")
            .map_err(StartFailure::Fatal)?;
        self.child = Some(child);

        let deadline = tokio::time::Instant::now() + scaled(READY_TIMEOUT);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child
                    .try_wait()
                    .context("cannot poll the etcd process")
                    .map_err(StartFailure::Fatal)?
                {
                    self.child = None;
                    let log = read_log(&self.log_path());
                    let this_run = log.get(log_start..).unwrap_or(&log);
                    return Err(StartFailure::Exited(format!("({status})\n{this_run}")));
                }
            }
            let last_probe = match tokio::time::timeout(PROBE_TIMEOUT * 2, probe(&client_url)).await
            {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => format!("{e:#}"),
                Err(_) => "probe timed out".to_owned(),
            };
            if tokio::time::Instant::now() >= deadline {
                let _ = self.kill();
                return Err(StartFailure::Fatal(anyhow!(
                    "etcd at {client_url} not ready after {:.1}s (last probe: {last_probe}); its output:\n{}",
                    scaled(READY_TIMEOUT).as_secs_f64(),
                    self.logs()
                )));
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log_path(), lines)
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.kill();
        if std::thread::panicking() {
            eprintln!(
                "--- etcd {} output (last 40 lines) ---\n{}\n--- end of etcd output ---",
                self.endpoint(),
                self.log_tail(40)
            );
        }
    }
}

/// One readiness probe: connect, `status()`, then a linearizable read, which
/// only succeeds once the node is leader.
async fn probe(endpoint: &str) -> anyhow::Result<()> {
    let options = ConnectOptions::new()
        .with_connect_timeout(PROBE_TIMEOUT)
        .with_timeout(PROBE_TIMEOUT);
    let mut client = Client::connect([endpoint], Some(options)).await?;
    client.status().await?;
    client.get("mesh-testkit-ready-probe", None).await?;
    Ok(())
}

fn etcd_bin() -> String {
    std::env::var(ETCD_BIN_VAR).unwrap_or_else(|_| "etcd".to_owned())
}

/// Fails with an installation hint if the etcd binary cannot be run.
fn check_binary() -> anyhow::Result<()> {
    let bin = etcd_bin();
    match Command::new(&bin)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(anyhow!(
            "the etcd binary `{bin}` was not found on PATH: install it with \
             `apt-get install etcd-server` (or set {ETCD_BIN_VAR})"
        )),
        Err(e) => Err(anyhow!("cannot run the etcd binary `{bin}`: {e}")),
    }
}
