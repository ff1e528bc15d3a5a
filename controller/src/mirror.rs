//! The controller's copy of the mesh's resources in etcd, at one revision.
//!
//! [`crate::sync`] fills it from etcd (a full read at revision R, then the
//! watch from R+1) and hands changes over as [`SyncEvent`]s; the compile loop
//! applies them to its own [`Mirror`] and compiles. Only resource and health
//! keys are mirrored: the controller's own status writes under
//! `<prefix>/status/` never trigger a compile.

use std::collections::BTreeMap;
use std::sync::Arc;

/// One key's value and the revisions that matter for compiling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredValue {
    /// The raw value (JSON, not yet parsed).
    pub value: Arc<[u8]>,
    /// The revision the key was created at (Gateway API "oldest route wins").
    pub create_revision: i64,
    /// The revision of the last change to the key.
    pub mod_revision: i64,
    /// The lease it lives on, 0 for none.
    pub lease: i64,
}

/// A change to one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Put { key: String, value: StoredValue },
    Delete { key: String },
}

/// What [`crate::sync`] reports to the compile loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEvent {
    /// The whole state at `revision` (at start, and after a reconnect or a
    /// watch compaction): replaces everything mirrored before.
    Reset {
        revision: i64,
        kvs: BTreeMap<String, StoredValue>,
    },
    /// Changes observed by the watch, up to and including `revision`.
    Changes { revision: i64, changes: Vec<Change> },
}

/// The mirrored keys at one revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mirror {
    /// The etcd revision this state is at (0 before the first read).
    pub revision: i64,
    pub kvs: BTreeMap<String, StoredValue>,
}

impl Mirror {
    /// Applies one event. Events never go back in revision: an older
    /// `Changes` than the mirror is ignored (and `false` returned).
    pub fn apply(&mut self, event: SyncEvent) -> bool {
        match event {
            SyncEvent::Reset { revision, kvs } => {
                self.revision = revision;
                self.kvs = kvs;
                true
            }
            SyncEvent::Changes { revision, changes } => {
                if revision <= self.revision {
                    return false;
                }
                self.revision = revision;
                for change in changes {
                    match change {
                        Change::Put { key, value } => {
                            self.kvs.insert(key, value);
                        }
                        Change::Delete { key } => {
                            self.kvs.remove(&key);
                        }
                    }
                }
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(rev: i64) -> StoredValue {
        StoredValue {
            value: Arc::from(&b"{}"[..]),
            create_revision: rev,
            mod_revision: rev,
            lease: 0,
        }
    }

    #[test]
    fn applies_in_revision_order_only() {
        let mut m = Mirror::default();
        assert!(m.apply(SyncEvent::Reset {
            revision: 5,
            kvs: BTreeMap::from([("a".to_owned(), v(3))]),
        }));
        assert!(m.apply(SyncEvent::Changes {
            revision: 6,
            changes: vec![
                Change::Put {
                    key: "b".into(),
                    value: v(6)
                },
                Change::Delete { key: "a".into() },
            ],
        }));
        assert_eq!(m.kvs.keys().collect::<Vec<_>>(), ["b"]);
        assert!(!m.apply(SyncEvent::Changes {
            revision: 6,
            changes: vec![Change::Delete { key: "b".into() }],
        }));
        assert_eq!(m.revision, 6);
        assert!(m.kvs.contains_key("b"));
    }
}
