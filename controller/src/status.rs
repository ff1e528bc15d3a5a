//! Status the controller writes to etcd for operators (`meshctl status`):
//! whether each resource was accepted (and why not), and which revision
//! each router serves.
//!
//! | key | value |
//! | --- | --- |
//! | `<prefix>/status/resources/<kind>/<name>` | [`ResourceStatus`] |
//! | `<prefix>/status/routers/<id>` | [`RouterStatus`], on the controller's lease |

use serde::{Deserialize, Serialize};

/// Whether a resource made it into the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Accepted,
    Rejected,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Accepted => "accepted",
            State::Rejected => "rejected",
        }
    }
}

/// The status of one resource at one revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    pub state: State,
    /// The resource's own revision (its etcd mod revision) this status is
    /// about.
    pub revision: i64,
    /// Why it was rejected; for an accepted resource, what is wrong but
    /// tolerated (e.g. a backendRef naming a missing service, whose share of
    /// traffic answers 500). One line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

/// One router as a controller sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouterStatus {
    pub router: String,
    /// The controller it follows (its `--listen` address).
    pub controller: String,
    /// The revision and hash of the table it serves.
    pub revision: i64,
    pub table_hash: u64,
    /// The revision of the table the controller publishes.
    pub published_revision: i64,
    pub published_hash: u64,
    /// Why it refused the last table it was sent, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
}

impl RouterStatus {
    /// Revisions behind the published table; 0 when the content is the same.
    pub fn lag(&self) -> i64 {
        if self.table_hash == self.published_hash {
            0
        } else {
            (self.published_revision - self.revision).max(1)
        }
    }
}
