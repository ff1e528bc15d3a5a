//! Child processes that never outlive the test that started them.
//!
//! [`ChildGuard`] owns a [`std::process::Child`]; dropping it (also while a
//! test panics) sends SIGKILL and reaps the process, so no orphan or zombie is
//! left behind. Signals other than SIGKILL are sent with the system `kill`
//! command (procps), which keeps this crate free of libc/nix bindings.
//!
//! A process killed together with the test binary itself (the harness gets
//! SIGKILL) cannot be cleaned up this way; everything else is.

use std::io;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// A signal that [`ChildGuard::signal`] can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM: ask the process to shut down.
    Term,
    /// SIGINT: as Ctrl-C in a terminal.
    Int,
    /// SIGHUP.
    Hup,
    /// SIGKILL: cannot be caught.
    Kill,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Term => "TERM",
            Signal::Int => "INT",
            Signal::Hup => "HUP",
            Signal::Kill => "KILL",
        }
    }
}

/// Owns a child process; kills (SIGKILL) and reaps it on drop.
#[derive(Debug)]
pub struct ChildGuard {
    name: String,
    child: Child,
    exited: Option<ExitStatus>,
}

impl ChildGuard {
    /// Spawns `cmd` and guards the new process. `name` appears in errors.
    pub fn spawn(name: impl Into<String>, cmd: &mut Command) -> io::Result<ChildGuard> {
        let name = name.into();
        let child = cmd
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start {name}: {e}")))?;
        Ok(Self::new(name, child))
    }

    /// Guards an already spawned child.
    pub fn new(name: impl Into<String>, child: Child) -> ChildGuard {
        ChildGuard {
            name: name.into(),
            child,
            exited: None,
        }
    }

    /// The name given at spawn.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The wrapped child, e.g. to take its stdin/stdout pipes.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// The exit status if the process has exited (reaps it), else `None`.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait()?;
        }
        Ok(self.exited)
    }

    /// Whether the process is still running (not yet exited).
    pub fn is_running(&mut self) -> bool {
        matches!(self.try_wait(), Ok(None))
    }

    /// Sends `signal`. Does nothing if the process has already been reaped
    /// (its pid might belong to someone else by now).
    pub fn signal(&mut self, signal: Signal) -> io::Result<()> {
        if self.try_wait()?.is_some() {
            return Ok(());
        }
        if signal == Signal::Kill {
            return match self.child.kill() {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::InvalidInput => Ok(()),
                Err(e) => Err(e),
            };
        }
        let pid = self.pid().to_string();
        let status = Command::new("kill")
            .args(["-s", signal.name(), &pid])
            .status()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run `kill`: {e}")))?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "`kill -s {} {pid}` ({}) failed: {status}",
                signal.name(),
                self.name
            )))
        }
    }

    /// Sends SIGTERM.
    pub fn terminate(&mut self) -> io::Result<()> {
        self.signal(Signal::Term)
    }

    /// Sends SIGINT.
    pub fn interrupt(&mut self) -> io::Result<()> {
        self.signal(Signal::Int)
    }

    /// Waits up to `timeout` for the process to exit, polling; `None` if it
    /// is still running afterwards.
    pub fn wait_timeout(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Async form of [`ChildGuard::wait_timeout`] that does not block the
    /// runtime's worker thread.
    pub async fn wait_timeout_async(
        &mut self,
        timeout: Duration,
    ) -> io::Result<Option<ExitStatus>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// SIGKILL and reap; returns the exit status.
    pub fn kill(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.try_wait()? {
            return Ok(status);
        }
        self.signal(Signal::Kill)?;
        let status = self.child.wait()?;
        self.exited = Some(status);
        Ok(status)
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        // Errors cannot be reported from drop; a failure here means the
        // process is already gone.
        let _ = self.kill();
    }
}

/// Whether a process with this pid exists (including as a zombie).
pub fn pid_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Opens (creating it) a log file for a child's output, appending.
pub fn open_log(path: &std::path::Path) -> anyhow::Result<std::fs::File> {
    use anyhow::Context as _;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))
}

/// The whole log file at `path` as text (invalid UTF-8 replaced; empty if
/// unreadable).
pub fn read_log(path: &std::path::Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// The last `lines` lines of the log file at `path`.
pub fn log_tail(path: &std::path::Path, lines: usize) -> String {
    let log = read_log(path);
    let all: Vec<&str> = log.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sleeper() -> ChildGuard {
        ChildGuard::spawn("sleep", Command::new("sleep").arg("60")).expect("spawn sleep")
    }

    #[test]
    fn drop_kills_and_reaps() {
        let guard = sleeper();
        let pid = guard.pid();
        assert!(pid_exists(pid));
        drop(guard);
        assert!(!pid_exists(pid), "process {pid} survived the drop");
    }

    #[test]
    fn sigterm_ends_the_process() {
        let mut guard = sleeper();
        guard.terminate().expect("send SIGTERM");
        let status = guard
            .wait_timeout(Duration::from_secs(5))
            .expect("wait")
            .expect("sleep should exit on SIGTERM");
        assert!(!status.success());
        // Signalling an exited process is a no-op, not an error.
        guard.interrupt().expect("no-op signal");
    }

    #[test]
    fn wait_timeout_returns_none_while_running() {
        let mut guard = sleeper();
        let status = guard.wait_timeout(Duration::from_millis(50)).expect("wait");
        assert!(status.is_none());
        assert!(guard.is_running());
        assert!(!guard.kill().expect("kill").success());
        assert!(!guard.is_running());
    }

    #[test]
    fn spawn_error_names_the_program() {
        let err = ChildGuard::spawn("nope", &mut Command::new("/nonexistent/binary"))
            .expect_err("spawning a missing binary must fail");
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
