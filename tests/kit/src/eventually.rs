//! Waiting for a condition by polling, instead of sleeping a fixed time.
//!
//! [`eventually`] retries an async check every [`POLL_INTERVAL`] until it
//! succeeds or the timeout passes; the error names what was awaited and the
//! last failure. Every timeout in this crate is multiplied by the patience
//! factor from the `MESH_TEST_PATIENCE` environment variable (a float,
//! default 1.0), so slow machines can run the same tests.

use std::future::Future;
use std::time::Duration;

use anyhow::anyhow;

/// How long [`eventually`] waits between attempts.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Environment variable holding the patience multiplier.
pub const PATIENCE_VAR: &str = "MESH_TEST_PATIENCE";

/// The patience multiplier: `MESH_TEST_PATIENCE` if it is a positive finite
/// float, else 1.0.
pub fn patience() -> f64 {
    std::env::var(PATIENCE_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|p| p.is_finite() && *p > 0.0)
        .unwrap_or(1.0)
}

/// `timeout` multiplied by [`patience`].
pub fn scaled(timeout: Duration) -> Duration {
    timeout.mul_f64(patience())
}

/// The outcome of one attempt: `anyhow::Result<T>`, `Option<T>` or `bool`.
pub trait Attempt {
    /// The value a successful attempt yields.
    type Output;
    /// `Ok` on success, else why the attempt failed.
    fn into_attempt(self) -> anyhow::Result<Self::Output>;
}

impl<T> Attempt for anyhow::Result<T> {
    type Output = T;
    fn into_attempt(self) -> anyhow::Result<T> {
        self
    }
}

impl<T> Attempt for Option<T> {
    type Output = T;
    fn into_attempt(self) -> anyhow::Result<T> {
        self.ok_or_else(|| anyhow!("got None"))
    }
}

impl Attempt for bool {
    type Output = ();
    fn into_attempt(self) -> anyhow::Result<()> {
        if self {
            Ok(())
        } else {
            Err(anyhow!("got false"))
        }
    }
}

/// Calls `f` until it succeeds or `timeout` (times [`patience`]) passes.
///
/// An attempt that is still running at the deadline is cancelled. On timeout
/// the error reads `timed out after ...s waiting for <what>: <last failure>`.
pub async fn eventually<F, Fut, R>(
    what: &str,
    timeout: Duration,
    mut f: F,
) -> anyhow::Result<R::Output>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = R>,
    R: Attempt,
{
    let timeout = scaled(timeout);
    let deadline = tokio::time::Instant::now() + timeout;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let failure = match tokio::time::timeout(remaining, f()).await {
            Ok(outcome) => match outcome.into_attempt() {
                Ok(value) => return Ok(value),
                Err(e) => e,
            },
            Err(_) => anyhow!("attempt {attempts} still running at the deadline"),
        };
        if tokio::time::Instant::now() + POLL_INTERVAL > deadline {
            return Err(anyhow!(
                "timed out after {:.1}s ({attempts} attempts) waiting for {what}: {failure:#}",
                timeout.as_secs_f64()
            ));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn succeeds_after_some_failures() {
        let calls = AtomicU32::new(0);
        let value = eventually("the third call", Duration::from_secs(5), || async {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n >= 3 {
                Ok(n)
            } else {
                Err(anyhow!("only {n} calls"))
            }
        })
        .await
        .expect("should succeed on the third call");
        assert_eq!(value, 3);
    }

    #[tokio::test]
    async fn accepts_option_and_bool() {
        let v = eventually("some", Duration::from_secs(1), || async { Some(7) })
            .await
            .expect("Some succeeds");
        assert_eq!(v, 7);
        eventually("true", Duration::from_secs(1), || async { true })
            .await
            .expect("true succeeds");
    }

    #[tokio::test]
    async fn timeout_error_names_what_and_last_failure() {
        let err = eventually(
            "the moon to turn blue",
            Duration::from_millis(200),
            || async { Err::<(), _>(anyhow!("still grey")) },
        )
        .await
        .expect_err("must time out");
        let msg = err.to_string();
        assert!(msg.contains("the moon to turn blue"), "{msg}");
        assert!(msg.contains("still grey"), "{msg}");
    }

    #[tokio::test]
    async fn a_hanging_attempt_is_cut_at_the_deadline() {
        let started = tokio::time::Instant::now();
        let err = eventually("a hang", Duration::from_millis(200), || async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            true
        })
        .await
        .expect_err("must time out");
        assert!(err.to_string().contains("still running"), "{err}");
        assert!(started.elapsed() < scaled(Duration::from_secs(5)));
    }
}
