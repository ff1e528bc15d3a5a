//! Idle upstream connections of the fast path, kept per worker thread.
//!
//! A connection is parked here after a response that left it reusable and
//! taken again by the next request to the same address on the same
//! thread: no lock, no task per idle connection (pingora spawns one to
//! watch each). A connection the endpoint closed meanwhile is found when
//! it is used: the request is sent again on a new connection when that is
//! safe (see the connection loop). Connections idle longer than
//! [`IDLE_TIMEOUT`] are dropped when their address is next used, and by a
//! sweep over every address every [`SWEEP_EVERY`] parked connections (so
//! connections to endpoints no longer used close too, as long as the
//! thread serves requests). With work stealing (more than one thread) a
//! client connection's task may move between threads and so use the
//! pools of both.
//!
//! Per thread, because pingora runs one runtime per thread when work
//! stealing is off: a socket stays with the reactor that registered it.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// How long an upstream connection may stay idle in the pool.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(55);

/// Most idle connections kept per address and thread.
pub const MAX_IDLE: usize = 128;

/// Parked connections between two sweeps of the whole pool.
pub const SWEEP_EVERY: u32 = 4096;

/// The pool's map: keyed by address with a cheap hash (SipHash cost
/// more than the rest of the pool round trip).
type Idle = HashMap<SocketAddr, Vec<(TcpStream, Instant)>, BuildHasherDefault<AddrHasher>>;

thread_local! {
    static IDLE: RefCell<Idle> = RefCell::new(Idle::default());
    static PUTS: Cell<u32> = const { Cell::new(0) };
}

/// An idle connection to `addr`, newest first; `None` when there is none.
pub fn take(addr: SocketAddr) -> Option<TcpStream> {
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        let list = idle.get_mut(&addr)?;
        let (conn, since) = list.pop()?;
        if since.elapsed() < IDLE_TIMEOUT {
            return Some(conn);
        }
        // The newest is too old: so are all the others.
        list.clear();
        None
    })
}

/// Parks a reusable connection to `addr`.
pub fn put(addr: SocketAddr, conn: TcpStream) {
    let sweep = PUTS.with(|p| {
        let n = p.get().wrapping_add(1);
        p.set(n);
        n % SWEEP_EVERY == 0
    });
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        if sweep {
            sweep_expired(&mut idle);
        }
        let list = idle.entry(addr).or_default();
        if list.len() < MAX_IDLE {
            list.push((conn, Instant::now()));
        }
    });
}

/// Drops every connection idle longer than [`IDLE_TIMEOUT`], and the
/// addresses left without any.
fn sweep_expired(idle: &mut Idle) {
    idle.retain(|_, list| {
        list.retain(|(_, since)| since.elapsed() < IDLE_TIMEOUT);
        !list.is_empty()
    });
}

/// A multiply-rotate hash (FxHash's) for socket addresses: the keys are
/// the router's own endpoints, not attacker-chosen.
#[derive(Default, Clone, Copy)]
pub struct AddrHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(SEED);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// Idle connections on this thread (for tests).
#[cfg(test)]
pub fn idle(addr: SocketAddr) -> usize {
    IDLE.with(|idle| idle.borrow().get(&addr).map_or(0, Vec::len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn connections_come_back_newest_first() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        assert!(take(addr).is_none());
        let a = TcpStream::connect(addr).await.expect("connect");
        let b = TcpStream::connect(addr).await.expect("connect");
        let (a_port, b_port) = (
            a.local_addr().expect("a").port(),
            b.local_addr().expect("b").port(),
        );
        put(addr, a);
        put(addr, b);
        assert_eq!(idle(addr), 2);
        let first = take(addr).expect("one idle");
        assert_eq!(first.local_addr().expect("first").port(), b_port);
        let second = take(addr).expect("another idle");
        assert_eq!(second.local_addr().expect("second").port(), a_port);
        assert!(take(addr).is_none());
    }
}
