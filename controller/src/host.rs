//! The default id of a controller or router instance: `<hostname>:<port>`.
//! Shared by both so that ids in status keys and reports look alike.

/// `<hostname>:<port>`, with `fallback` in place of the hostname when it
/// cannot be read.
pub fn instance_id(fallback: &str, port: u16) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| fallback.to_owned());
    format!("{host}:{port}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn ends_with_the_port_and_is_a_valid_router_id() {
        let id = super::instance_id("fallback", 7300);
        assert!(id.ends_with(":7300"), "{id}");
        assert!(id.len() > ":7300".len(), "{id}");
        assert_eq!(mesh_config::wire::check_router_id(&id), Ok(()), "{id}");
    }
}
