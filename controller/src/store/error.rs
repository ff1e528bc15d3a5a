//! [`StoreError`] and the mapping of etcd-client errors onto it.

use std::time::Duration;

/// Errors of the etcd access layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No etcd answered: connection refused, DNS, TLS, timeout.
    #[error("etcd unreachable at {endpoints}: {reason}")]
    Unreachable {
        /// The endpoints tried, comma-separated.
        endpoints: String,
        /// What went wrong.
        reason: String,
    },
    /// The endpoint list is empty or an endpoint is not a valid URL.
    #[error("invalid etcd endpoints {endpoints:?}: {reason}")]
    InvalidEndpoints {
        /// The endpoints given, comma-separated.
        endpoints: String,
        /// What is wrong with them.
        reason: String,
    },
    /// A transaction would exceed etcd's limit of operations per transaction.
    #[error("{count} operations in one transaction; etcd allows at most {max} (--max-txn-ops)")]
    TooManyOps {
        /// Operations requested.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// etcd answered with an error.
    #[error("etcd request failed: {0}")]
    Etcd(#[source] etcd_client::Error),
    /// etcd answered without the response header that carries the revision.
    #[error("etcd response to {0} has no header")]
    MissingHeader(&'static str),
}

impl StoreError {
    /// Whether etcd could not be reached at all (as opposed to refusing a request).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, StoreError::Unreachable { .. })
    }

    /// Whether etcd refused a read or watch because the revision asked for
    /// was compacted away.
    pub fn is_compacted(&self) -> bool {
        match self {
            StoreError::Etcd(etcd_client::Error::GRpcStatus(status)) => {
                i32::from(status.code()) == GRPC_OUT_OF_RANGE
                    && status.message().contains("compacted")
            }
            _ => false,
        }
    }

    /// Whether etcd no longer knows a lease (it expired or was revoked).
    pub fn is_lease_not_found(&self) -> bool {
        match self {
            StoreError::Etcd(etcd_client::Error::LeaseKeepAliveError(_)) => true,
            StoreError::Etcd(etcd_client::Error::GRpcStatus(status)) => {
                i32::from(status.code()) == GRPC_NOT_FOUND
                    && status.message().contains("lease not found")
            }
            _ => false,
        }
    }

    /// Whether the caller's input is at fault (bad endpoints, too large a
    /// transaction) rather than etcd being unreachable or failing.
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            StoreError::InvalidEndpoints { .. } | StoreError::TooManyOps { .. }
        )
    }
}

pub(super) fn no_answer(endpoints: &str, limit: Duration) -> StoreError {
    StoreError::Unreachable {
        endpoints: endpoints.to_owned(),
        reason: format!("no answer within {:.1}s", limit.as_secs_f64()),
    }
}

/// gRPC status codes that mean "no etcd answered" rather than "etcd said no".
const GRPC_CANCELLED: i32 = 1;
const GRPC_DEADLINE_EXCEEDED: i32 = 4;
const GRPC_UNAVAILABLE: i32 = 14;
/// etcd's code for a compacted (or future) revision.
const GRPC_OUT_OF_RANGE: i32 = 11;
/// etcd's code for an unknown lease.
const GRPC_NOT_FOUND: i32 = 5;

/// Splits etcd-client errors into unreachable (transport failures, timeouts,
/// etcd unavailable) and everything else (etcd answered and refused).
pub(super) fn classify(endpoints: &str, e: etcd_client::Error) -> StoreError {
    let unreachable = |reason: String| StoreError::Unreachable {
        endpoints: endpoints.to_owned(),
        reason,
    };
    match e {
        etcd_client::Error::TransportError(t) => unreachable(error_chain(&t)),
        etcd_client::Error::IoError(io) => unreachable(io.to_string()),
        // A status with a source was made on this side from a connection
        // failure (tonic uses code Unknown for some, e.g. a broken pipe);
        // statuses sent by etcd never have one.
        etcd_client::Error::GRpcStatus(status)
            if std::error::Error::source(&status).is_some()
                || matches!(
                    i32::from(status.code()),
                    GRPC_CANCELLED | GRPC_DEADLINE_EXCEEDED | GRPC_UNAVAILABLE
                ) =>
        {
            let reason = match std::error::Error::source(&status) {
                Some(source) => {
                    let chain = error_chain(source);
                    if chain.contains(status.message()) {
                        chain
                    } else {
                        format!("{}: {chain}", status.message())
                    }
                }
                None => status.message().to_owned(),
            };
            unreachable(reason)
        }
        other => StoreError::Etcd(other),
    }
}

/// An error and its sources, joined with ": ".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text = format!("{text}: {next}");
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_is_recognised() {
        let e = StoreError::Unreachable {
            endpoints: "http://127.0.0.1:1".into(),
            reason: "refused".into(),
        };
        assert!(e.is_unreachable());
        assert!(e.to_string().contains("http://127.0.0.1:1"));
        assert!(!StoreError::TooManyOps {
            count: 129,
            max: 128
        }
        .is_unreachable());
        assert!(no_answer("x", Duration::from_secs(2)).is_unreachable());
    }
}
