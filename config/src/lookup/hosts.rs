//! Host selection: which bucket of routes a request's (normalised) host
//! picks, the way Envoy picks a virtual host: the bucket of the exact
//! hostname, else the bucket of the matching wildcard with the longest
//! suffix, else the bucket of the routes without hostnames.

use super::bucket::{Bucket, LenSet};
use super::hash::FastMap;

/// Every bucket, by the host names that select it.
#[derive(Debug, Default)]
pub(super) struct Hosts {
    pub exact: FastMap<Bucket>,
    /// Keyed by the suffix with its leading dot: `*.example.com` is
    /// `.example.com`.
    pub wildcard: FastMap<Bucket>,
    /// The lengths of the keys of `wildcard`.
    pub wildcard_lens: LenSet,
    /// Routes without hostnames.
    pub any: Option<Bucket>,
}

impl Hosts {
    /// The bucket for a normalised host (`None`: a host no hostname can
    /// match, which only routes without hostnames serve).
    #[inline]
    pub fn select(&self, host: Option<&str>) -> Option<&Bucket> {
        if let Some(host) = host {
            if let Some(b) = self.exact.get(host.as_bytes()) {
                return Some(b);
            }
            if let Some(b) = self.wildcard_for(host) {
                return Some(b);
            }
        }
        self.any.as_ref()
    }

    /// The wildcard bucket of the longest suffix `host` ends with, with at
    /// least one byte before it: `*.example.com` matches `a.example.com` and
    /// `a.b.example.com`, never `example.com` (nor `.example.com`).
    fn wildcard_for(&self, host: &str) -> Option<&Bucket> {
        if self.wildcard.is_empty() {
            return None;
        }
        // Left to right: the first dot gives the longest suffix.
        host.bytes()
            .enumerate()
            .skip(1)
            .filter(|&(i, b)| b == b'.' && self.wildcard_lens.contains(host.len() - i))
            .find_map(|(i, _)| host.as_bytes().get(i..).and_then(|s| self.wildcard.get(s)))
    }
}
