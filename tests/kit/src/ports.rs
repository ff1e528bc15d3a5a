//! Free TCP ports on 127.0.0.1 for processes a test starts.
//!
//! A port is found by binding `127.0.0.1:0` and reading the port the kernel
//! chose. The listener is dropped before the port is returned, so another
//! process may take it in between: callers that start servers on these ports
//! should retry with new ports when the bind fails (as [`crate::Etcd`] does).

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};

/// Finds one free TCP port on 127.0.0.1.
///
/// # Panics
/// If the kernel refuses to bind an ephemeral port on 127.0.0.1 at all (the
/// test environment is broken); see [`try_free_ports`] for the fallible form.
pub fn free_port() -> u16 {
    free_ports(1)[0]
}

/// Finds `count` distinct free TCP ports on 127.0.0.1.
///
/// # Panics
/// Like [`free_port`].
pub fn free_ports(count: usize) -> Vec<u16> {
    match try_free_ports(count) {
        Ok(ports) => ports,
        Err(e) => panic!("cannot bind an ephemeral port on 127.0.0.1: {e}"),
    }
}

/// Finds `count` distinct free TCP ports on 127.0.0.1.
///
/// All listeners are held until every port is known, so the ports are
/// guaranteed to differ from each other.
pub fn try_free_ports(count: usize) -> io::Result<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect()
}

/// `127.0.0.1:port` as a socket address.
pub fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Whether something accepts TCP connections on `127.0.0.1:port` right now.
pub fn is_listening(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&localhost(port), std::time::Duration::from_millis(200))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn free_port_can_be_bound() {
        let port = free_port();
        assert_ne!(port, 0);
        TcpListener::bind(localhost(port)).expect("the port should still be free");
    }

    #[test]
    fn free_ports_are_distinct() {
        let ports = free_ports(16);
        let unique: HashSet<_> = ports.iter().collect();
        assert_eq!(unique.len(), 16);
    }

    #[test]
    fn nothing_listens_on_a_free_port() {
        let port = free_port();
        assert!(!is_listening(port));
        let _l = TcpListener::bind(localhost(port)).expect("bind");
        assert!(is_listening(port));
    }
}
