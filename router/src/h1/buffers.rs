//! Response and head buffers lent per request from a per-thread free list,
//! so that an idle keep-alive connection holds none of them.

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};
use std::thread::LocalKey;

/// Size of a lent buffer: room for a response head and the body read with
/// it (the largest response head the fast path reads).
pub const SIZE: usize = 16 * 1024;

/// Most free buffers kept per thread.
const MAX_FREE: usize = 256;

thread_local! {
    static FREE: FreeList = const { RefCell::new(Vec::new()) };
}

/// A buffer of [`SIZE`] bytes (contents unspecified; it may be grown),
/// back to the free list when dropped (unless grown).
pub struct Buffer(Vec<u8>);

impl Buffer {
    pub fn take() -> Buffer {
        let mut buf = pop(&FREE).unwrap_or_default();
        if buf.len() != SIZE {
            buf.resize(SIZE, 0);
        }
        Buffer(buf)
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        if buf.len() == SIZE {
            push(&FREE, buf);
        }
    }
}

impl Deref for Buffer {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for Buffer {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

/// A head buffer (the upstream copy of a request, a rebuilt response
/// head, an answer), cleared, back to the free list when dropped.
pub struct Head(Vec<u8>);

thread_local! {
    static FREE_HEADS: FreeList = const { RefCell::new(Vec::new()) };
}

impl Head {
    pub fn take() -> Head {
        let mut buf = pop(&FREE_HEADS).unwrap_or_else(|| Vec::with_capacity(1024));
        buf.clear();
        Head(buf)
    }
}

impl Drop for Head {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        if buf.capacity() <= SIZE {
            push(&FREE_HEADS, buf);
        }
    }
}

impl Deref for Head {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for Head {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

/// A free list of this thread's.
type FreeList = RefCell<Vec<Vec<u8>>>;

/// A buffer from `list`, if it has one (none while the thread ends).
fn pop(list: &'static LocalKey<FreeList>) -> Option<Vec<u8>> {
    list.try_with(|f| f.borrow_mut().pop()).ok().flatten()
}

/// Gives `buf` back to `list`, unless it holds [`MAX_FREE`] already.
fn push(list: &'static LocalKey<FreeList>, buf: Vec<u8>) {
    let _ = list.try_with(|f| {
        let mut f = f.borrow_mut();
        if f.len() < MAX_FREE {
            f.push(buf);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_lent_again() {
        let mut a = Buffer::take();
        assert_eq!(a.len(), SIZE);
        a[0] = 7;
        let ptr = a.as_ptr();
        drop(a);
        let b = Buffer::take();
        assert_eq!(b.as_ptr(), ptr);
        let mut h = Head::take();
        h.extend_from_slice(b"GET");
        drop(h);
        assert!(Head::take().is_empty());
    }
}
