//! The access log: one JSON object per answered request, one per line,
//! written to a file or standard output by a thread of its own.
//!
//! The request path formats its line and hands it over a bounded channel
//! without waiting: when the writer falls behind by [`QUEUE`] lines, lines
//! are dropped and counted (`mesh_router_access_log_dropped_total`) rather
//! than slowing requests down. The writer wakes every [`FLUSH_EVERY`] and
//! writes what is queued, so a line reaches the file within about 50 ms. A file is opened for appending (created if missing); rotate it
//! with copy-and-truncate.
//!
//! ```json
//! {"ts":"2026-11-28T23:59:01.123Z","client":"10.0.0.7","method":"GET","host":"orders.mesh","path":"/v1/orders?id=7","proto":"HTTP/1.1","status":200,"duration_us":812,"route":"orders","service":"orders","upstream":"10.0.1.4:8080","attempts":1,"request_id":"4f1c...","error":null}
//! ```

use prometheus::IntCounter;
use serde::Serialize;
use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// Lines waiting for the writer before new ones are dropped.
pub const QUEUE: usize = 16 * 1024;

/// Where the access log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Stdout,
    File(PathBuf),
}

impl Target {
    /// `-` is standard output; anything else a file path.
    pub fn parse(s: &str) -> Result<Target, AccessLogError> {
        match s {
            "" => Err(AccessLogError::Empty),
            "-" => Ok(Target::Stdout),
            path => Ok(Target::File(PathBuf::from(path))),
        }
    }
}

#[derive(Debug, Error)]
pub enum AccessLogError {
    #[error("the access log path is empty (use - for standard output)")]
    Empty,
    #[error("cannot open the access log {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("cannot start the access log writer: {0}")]
    Thread(io::Error),
}

/// One request as the access log records it.
#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    pub client: Option<IpAddr>,
    pub method: &'a str,
    pub host: &'a str,
    /// The request target as received (path and query).
    pub path: &'a str,
    pub proto: &'a str,
    /// The status answered (0: the connection ended before an answer).
    pub status: u16,
    pub duration: Duration,
    /// The route matched (empty: none).
    pub route: &'a str,
    /// The service chosen (empty: none).
    pub service: &'a str,
    /// The endpoint of the last attempt.
    pub upstream: Option<SocketAddr>,
    /// Upstream attempts made.
    pub attempts: u32,
    pub request_id: Option<&'a str>,
    /// The `x-mesh-error` reason when the router answered an error itself.
    pub error: Option<&'a str>,
}

/// The line written for an entry (field order fixed).
#[derive(Serialize)]
struct Line<'a> {
    ts: Timestamp,
    client: Option<IpAddr>,
    method: &'a str,
    host: &'a str,
    path: &'a str,
    proto: &'a str,
    status: u16,
    duration_us: u64,
    route: &'a str,
    service: &'a str,
    upstream: Option<SocketAddr>,
    attempts: u32,
    request_id: Option<&'a str>,
    error: Option<&'a str>,
}

/// A running access log. Cheap to share (`Arc`).
pub struct AccessLog {
    tx: SyncSender<Vec<u8>>,
    dropped: IntCounter,
}

impl AccessLog {
    /// Opens `target` and starts the writer thread; it ends when the last
    /// `AccessLog` is dropped, after writing what was queued.
    pub fn start(target: &Target, dropped: IntCounter) -> Result<AccessLog, AccessLogError> {
        let out: Box<dyn Write + Send> = match target {
            Target::Stdout => Box::new(io::stdout()),
            Target::File(path) => Box::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| AccessLogError::Open {
                        path: path.clone(),
                        source,
                    })?,
            ),
        };
        let (tx, rx) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("mesh-router-access-log".to_owned())
            .spawn(move || write_lines(rx, BufWriter::with_capacity(64 * 1024, out)))
            .map_err(AccessLogError::Thread)?;
        Ok(AccessLog { tx, dropped })
    }

    /// Queues the line of `entry`; never waits.
    pub fn log(&self, entry: &Entry<'_>) {
        let mut line = Vec::with_capacity(384);
        let written = serde_json::to_writer(
            &mut line,
            &Line {
                ts: Timestamp(SystemTime::now()),
                client: entry.client,
                method: entry.method,
                host: entry.host,
                path: entry.path,
                proto: entry.proto,
                status: entry.status,
                duration_us: u64::try_from(entry.duration.as_micros()).unwrap_or(u64::MAX),
                route: entry.route,
                service: entry.service,
                upstream: entry.upstream,
                attempts: entry.attempts,
                request_id: entry.request_id,
                error: entry.error,
            },
        );
        if written.is_err() {
            return;
        }
        line.push(b'\n');
        match self.tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => self.dropped.inc(),
        }
    }
}

/// How often the writer wakes to write what was queued. The writer never
/// blocks on the queue: a request thread that queues a line never has to
/// wake it (a wake-up per line cost more than the rest of the request).
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// The writer thread: every [`FLUSH_EVERY`], writes the queued lines and
/// flushes; ends once every sender is gone and the queue is empty.
fn write_lines(rx: Receiver<Vec<u8>>, mut out: BufWriter<Box<dyn Write + Send>>) {
    let mut failed = false;
    loop {
        std::thread::sleep(FLUSH_EVERY);
        let mut result = Ok(());
        let mut open = true;
        loop {
            match rx.try_recv() {
                Ok(line) => {
                    if result.is_ok() {
                        result = out.write_all(&line);
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        if result.is_ok() {
            result = out.flush();
        }
        match result {
            Err(e) if !failed => {
                tracing::error!("cannot write the access log: {e}");
                failed = true;
            }
            Ok(()) => failed = false,
            Err(_) => {}
        }
        if !open {
            return;
        }
    }
}

/// A time written as RFC 3339 UTC with milliseconds.
struct Timestamp(SystemTime);

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let since = self.0.duration_since(UNIX_EPOCH).unwrap_or_default();
        s.collect_str(&format_args!("{}", rfc3339(since)))
    }
}

/// `since` (after the Unix epoch) as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn rfc3339(since: Duration) -> String {
    let secs = since.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(rfc3339(Duration::ZERO), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(Duration::from_millis(1_795_910_341_123)),
            "2026-11-28T23:59:01.123Z"
        );
        assert_eq!(
            rfc3339(Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn targets_parse() {
        assert_eq!(Target::parse("-").ok(), Some(Target::Stdout));
        assert_eq!(
            Target::parse("/var/log/a.log").ok(),
            Some(Target::File("/var/log/a.log".into()))
        );
        assert!(Target::parse("").is_err());
    }

    #[test]
    fn lines_reach_the_file_escaped_and_in_order() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("access.log");
        let dropped = IntCounter::new("d", "d").expect("counter");
        let log = AccessLog::start(&Target::File(path.clone()), dropped.clone()).expect("starts");
        for i in 0..3u16 {
            log.log(&Entry {
                client: Some("10.0.0.7".parse().expect("ip")),
                method: "GET",
                host: "orders.mesh",
                path: "/a\"b\\c\n",
                proto: "HTTP/1.1",
                status: 200 + i,
                duration: Duration::from_micros(812),
                route: "orders",
                service: "orders",
                upstream: Some("10.0.1.4:8080".parse().expect("addr")),
                attempts: 1,
                request_id: Some("r"),
                error: None,
            });
        }
        drop(log);
        // The writer thread writes what was queued, then ends.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let text = loop {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.lines().count() == 3 || std::time::Instant::now() > deadline {
                break text;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(text.lines().count(), 3, "{text}");
        for (i, line) in text.lines().enumerate() {
            let v: serde_json::Value = serde_json::from_str(line).expect("json");
            assert_eq!(v["status"], 200 + i as u64);
            assert_eq!(v["path"], "/a\"b\\c\n");
            assert_eq!(v["duration_us"], 812);
            assert_eq!(v["upstream"], "10.0.1.4:8080");
            assert_eq!(v["error"], serde_json::Value::Null);
            assert!(v["ts"].as_str().is_some_and(|t| t.ends_with('Z')));
        }
        assert_eq!(dropped.get(), 0);
    }
}
