//! The value of a health key (`<prefix>/health/<service>/<name>`): what the
//! controller's health checker last found about one endpoint.
//!
//! ```json
//! {"status":"unhealthy","reason":"connect refused","checkedAt":"2026-11-28T10:00:00Z"}
//! ```
//!
//! The compile step sets the endpoint's [`Health`] in the table from it; a
//! value that does not parse is ignored (the endpoint's health stays
//! [`Health::Unknown`]): health is advice, never a reason to reject anything.

use super::Health;
use serde::{Deserialize, Serialize};

/// One endpoint's health, as stored under its health key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HealthRecord {
    /// `healthy` or `unhealthy`.
    pub status: Health,
    /// Why, in a few words (e.g. the failed check's error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the check ran (RFC 3339), for operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<String>,
}

impl HealthRecord {
    /// Parses a stored value; `None` when it is not a health record.
    pub fn from_json(bytes: &[u8]) -> Option<HealthRecord> {
        serde_json::from_slice(bytes).ok()
    }

    /// The JSON form stored in etcd.
    pub fn to_json(&self) -> String {
        // A struct of strings and a unit enum always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_form() {
        let r = HealthRecord {
            status: Health::Unhealthy,
            reason: Some("connect refused".into()),
            checked_at: Some("2026-11-28T10:00:00Z".into()),
        };
        let json = r.to_json();
        assert_eq!(
            json,
            r#"{"status":"unhealthy","reason":"connect refused","checkedAt":"2026-11-28T10:00:00Z"}"#
        );
        assert_eq!(HealthRecord::from_json(json.as_bytes()), Some(r));
        assert_eq!(
            HealthRecord::from_json(br#"{"status":"healthy"}"#).map(|r| r.status),
            Some(Health::Healthy)
        );
    }

    #[test]
    fn bad_values_are_none() {
        for bad in [
            &br#"{"status":"sick"}"#[..],
            br#"{"status":"healthy","extra":1}"#,
            br#"{}"#,
            b"healthy",
            b"",
        ] {
            assert_eq!(HealthRecord::from_json(bad), None, "{bad:?}");
        }
    }
}
