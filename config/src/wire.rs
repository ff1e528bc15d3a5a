//! The controller → router protocol.
//!
//! A router opens `GET /v1/subscribe?router=<id>` on a controller and reads
//! a stream of newline-delimited JSON [`ToRouter`] messages (HTTP/1.1,
//! chunked): first a [`ToRouter::Snapshot`] of the whole table, then a
//! [`ToRouter::Delta`] for each newer table whose content changed, carrying
//! only the parts that changed (see [`crate::table`]), and a
//! [`ToRouter::Heartbeat`] when nothing happened for a while, so either side
//! notices a dead connection. A router reports what it did with each table
//! by `POST /v1/report` with a [`Report`].
//!
//! A delta names the table hash it applies to (`baseHash`) and the hash of
//! the result (`tableHash`); a router whose table does not match
//! reconnects, and gets a fresh snapshot.

use crate::table::{Changes, Part};
use serde::{Deserialize, Serialize};

/// Path of the subscription stream on the controller's listener.
pub const SUBSCRIBE_PATH: &str = "/v1/subscribe";
/// Path routers post their [`Report`]s to.
pub const REPORT_PATH: &str = "/v1/report";
/// The content type of the stream.
pub const STREAM_CONTENT_TYPE: &str = "application/x-ndjson";

/// The longest router id accepted.
pub const MAX_ROUTER_ID_LEN: usize = 128;

/// Checks a router id (`--id`, the `router` query parameter, [`Report::router`]):
/// 1 to [`MAX_ROUTER_ID_LEN`] ASCII letters, digits, `.`, `_`, `-` or `:`
/// (so `host:8080` works and the id is safe in an etcd key and a URL). The
/// error is a one-line reason.
pub fn check_router_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("router id is empty".to_owned());
    }
    if id.len() > MAX_ROUTER_ID_LEN {
        return Err(format!(
            "router id is {} bytes long; at most {MAX_ROUTER_ID_LEN} allowed",
            id.len()
        ));
    }
    match id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':')))
    {
        Some(c) => Err(format!(
            "router id {id:?} contains {c:?}; only ASCII letters, digits, '.', '_', '-' and ':' allowed"
        )),
        None => Ok(()),
    }
}

/// One message from a controller to a router: one line of the stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ToRouter {
    /// The whole table.
    #[serde(rename_all = "camelCase")]
    Snapshot {
        revision: i64,
        table_hash: u64,
        parts: Vec<Part>,
    },
    /// The changes from the table with `base_hash` to the one with
    /// `table_hash` at `revision`.
    #[serde(rename_all = "camelCase")]
    Delta {
        revision: i64,
        base_revision: i64,
        base_hash: u64,
        table_hash: u64,
        #[serde(flatten)]
        changes: Changes,
    },
    /// Nothing changed; the controller is alive and serves `revision`
    /// (the table this stream last sent). Revision 0 with hash 0: the
    /// controller has no table yet.
    #[serde(rename_all = "camelCase")]
    Heartbeat { revision: i64, table_hash: u64 },
}

impl ToRouter {
    /// The revision this message brings the router to.
    pub fn revision(&self) -> i64 {
        match self {
            ToRouter::Snapshot { revision, .. }
            | ToRouter::Delta { revision, .. }
            | ToRouter::Heartbeat { revision, .. } => *revision,
        }
    }
}

/// What a router did with the table it was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum Outcome {
    /// Serving it.
    Applied,
    /// Refused it (and keeps serving the table it had), for `reason`.
    Rejected { reason: String },
}

/// A router's report to the controller it follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The router's id (`--id`).
    pub router: String,
    /// The revision of the table it serves now.
    pub revision: i64,
    /// The hash of the table it serves now.
    pub table_hash: u64,
    /// What happened to the latest table it was sent (at `offered_revision`).
    pub offered_revision: i64,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_json_line_each() {
        let msgs = [
            ToRouter::Snapshot {
                revision: 3,
                table_hash: 7,
                parts: vec![],
            },
            ToRouter::Delta {
                revision: 4,
                base_revision: 3,
                base_hash: 7,
                table_hash: 8,
                changes: Changes::default(),
            },
            ToRouter::Heartbeat {
                revision: 4,
                table_hash: 8,
            },
        ];
        for msg in msgs {
            let line = serde_json::to_string(&msg).expect("serializes");
            assert!(!line.contains('\n'));
            assert_eq!(
                serde_json::from_str::<ToRouter>(&line).expect("parses"),
                msg
            );
        }
        let report = Report {
            router: "r1".into(),
            revision: 4,
            table_hash: 8,
            offered_revision: 5,
            outcome: Outcome::Rejected {
                reason: "bad".into(),
            },
        };
        let json = serde_json::to_string(&report).expect("serializes");
        assert!(
            json.contains(r#""outcome":"rejected","reason":"bad""#),
            "{json}"
        );
        assert_eq!(
            serde_json::from_str::<Report>(&json).expect("parses"),
            report
        );
    }

    #[test]
    fn router_ids() {
        for ok in [
            "r1",
            "host-a.example:8080",
            "a_b",
            &"x".repeat(MAX_ROUTER_ID_LEN),
        ] {
            assert_eq!(check_router_id(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "a/b",
            "a b",
            "é",
            "a\n",
            &"x".repeat(MAX_ROUTER_ID_LEN + 1),
        ] {
            let err = check_router_id(bad).expect_err(bad);
            assert!(!err.contains('\n'), "{err}");
        }
    }
}
