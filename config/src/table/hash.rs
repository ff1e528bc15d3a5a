//! Content hashes: FNV-1a (64 bit) over canonical JSON. Fixed by this code,
//! not by the Rust version or the machine, so every controller and router
//! computes the same hash for the same content.

use super::PartId;
use serde::Serialize;

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a over bytes, continuing from `state`.
fn fnv(mut state: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        state ^= u64::from(*b);
        state = state.wrapping_mul(PRIME);
    }
    state
}

/// The hash of a value's JSON form. The table's types serialize
/// deterministically (ordered maps, sorted lists), so equal content gives
/// equal hashes.
pub fn content_hash<T: Serialize>(value: &T) -> u64 {
    // These plain data types always serialize; an error would only drop
    // content from the hash, never panic.
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    fnv(OFFSET, &bytes)
}

/// The hash of a whole table from its parts' ids and hashes, in order.
pub(super) fn table_hash<'a>(parts: impl Iterator<Item = (&'a PartId, u64)>) -> u64 {
    let mut state = OFFSET;
    for (id, hash) in parts {
        let tag: &[u8] = match id {
            PartId::Service(_) => b"s",
            PartId::Route(_) => b"r",
        };
        let name = match id {
            PartId::Service(n) | PartId::Route(n) => n.as_bytes(),
        };
        state = fnv(state, tag);
        state = fnv(state, name);
        state = fnv(state, &[0]);
        state = fnv(state, &hash.to_le_bytes());
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_reference_values() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv(OFFSET, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv(OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv(OFFSET, b"foobar"), 0x8594_4171_f739_67e8);
    }
}
