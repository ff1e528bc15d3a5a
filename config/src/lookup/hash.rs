//! The hasher of the index's string-keyed maps (hosts, paths): a word at a
//! time multiply-rotate (the FxHash step) with a full avalanche at the end
//! (the MurmurHash3 finaliser), several times faster than the default
//! SipHash on short keys such as hostnames and paths.
//!
//! It is not keyed. Hash flooding needs the attacker to choose the keys of
//! a map; here every key comes from the table (operators), and requests
//! only look keys up: a lookup costs one hash and a short probe whatever
//! its input.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// A map with byte-string keys (hosts, paths), hashed fast; looked up with
/// `&[u8]`.
pub(super) type FastMap<V> = HashMap<Key, V, BuildHasherDefault<FastHasher>>;

/// The longest key kept inline.
const INLINE: usize = 30;

/// A map key: the bytes of a host or path, inline when short, so that
/// comparing a probe with it follows no pointer.
#[derive(Debug, Clone)]
pub(super) enum Key {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Key {
    pub fn new(s: &str) -> Key {
        let mut bytes = [0u8; INLINE];
        match (bytes.get_mut(..s.len()), u8::try_from(s.len())) {
            (Some(dst), Ok(len)) => {
                dst.copy_from_slice(s.as_bytes());
                Key::Inline { len, bytes }
            }
            _ => Key::Heap(s.as_bytes().into()),
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            Key::Heap(b) => b,
        }
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

// Hash and Eq as the bytes, as `Borrow` requires.
impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Key {}

const K: u64 = 0x517c_c1b7_2722_0a95;

#[derive(Debug, Default, Clone, Copy)]
pub(super) struct FastHasher(u64);

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().unwrap_or_default()));
        }
        let rest = chunks.remainder();
        let last = if rest.is_empty() {
            0
        } else if let Some(tail) = bytes.len().checked_sub(8).and_then(|i| bytes.get(i..)) {
            // The last eight bytes, overlapping the last whole word.
            u64::from_le_bytes(tail.try_into().unwrap_or_default())
        } else {
            rest.iter().rev().fold(0, |w, b| (w << 8) | u64::from(*b))
        };
        // The length tells `ab` from `ab\0`.
        self.add(last ^ ((bytes.len() as u64) << 56));
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    fn hash(s: &str) -> u64 {
        BuildHasherDefault::<FastHasher>::default().hash_one(s.as_bytes())
    }

    #[test]
    fn keys_are_their_bytes() {
        for s in [
            "",
            "/",
            "a.example.com",
            &"x".repeat(30),
            &"y".repeat(31),
            &"z".repeat(300),
        ] {
            let key = Key::new(s);
            assert_eq!(key.as_bytes(), s.as_bytes());
            let h = BuildHasherDefault::<FastHasher>::default();
            assert_eq!(h.hash_one(&key), h.hash_one(s.as_bytes()));
        }
        assert!(matches!(Key::new(&"x".repeat(30)), Key::Inline { .. }));
        assert!(matches!(Key::new(&"x".repeat(31)), Key::Heap(_)));
        let mut map: FastMap<u8> = FastMap::default();
        map.insert(Key::new("/a/b"), 1);
        map.insert(Key::new(&"/long".repeat(10)), 2);
        assert_eq!(map.get(&b"/a/b"[..]), Some(&1));
        assert_eq!(map.get("/long".repeat(10).as_bytes()), Some(&2));
        assert_eq!(map.get(&b"/a/c"[..]), None);
    }

    #[test]
    fn similar_keys_spread() {
        // Paths and hosts that differ in one character, or only in length,
        // hash apart, in their low bits too (hash maps index by them).
        let mut keys: Vec<String> = (0..10_000).map(|i| format!("/r{i}/api")).collect();
        keys.extend((0..1_000).map(|i| format!("svc{i}.example.com")));
        keys.extend((0..20).map(|n| "a".repeat(n)));
        keys.extend((1..20).map(|n| "\0".repeat(n)));
        let full: HashSet<u64> = keys.iter().map(|k| hash(k)).collect();
        assert_eq!(full.len(), keys.len());
        let low: HashSet<u64> = keys.iter().map(|k| hash(k) & 0xffff).collect();
        assert!(low.len() > 9_000, "{} distinct low 16 bits", low.len());
    }
}
