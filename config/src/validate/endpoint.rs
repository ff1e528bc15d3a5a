//! Endpoint documents: name and service (DNS-1123 labels), address (an IP
//! literal: routers never resolve names), port, weight
//! (0..=[`ENDPOINT_WEIGHT_MAX`], default 1, 0 drains), zone and labels
//! (Kubernetes label syntax, at most [`LABELS_MAX`]).

use super::limits::{ENDPOINT_WEIGHT_MAX, LABELS_MAX};
use super::names::{check_label_key, check_label_value, check_zone};
use super::Checker;
use crate::model::Endpoint;
use crate::spec::EndpointDoc;
use std::net::{IpAddr, SocketAddr};

/// Checks an endpoint address: an IPv4 or IPv6 literal that can receive
/// connections (not unspecified, multicast or broadcast).
fn check_address(s: &str) -> Result<IpAddr, String> {
    let ip = match s.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) if s.parse::<SocketAddr>().is_ok() => {
            return Err(
                "must be an IP address without a port (the port goes in spec.port)".to_owned(),
            );
        }
        Err(_) if s.starts_with('[') && s.ends_with(']') => {
            return Err("must be an IPv6 address without brackets".to_owned());
        }
        Err(_) => {
            return Err("must be an IPv4 or IPv6 address (host names are not resolved)".to_owned());
        }
    };
    if ip.is_unspecified() {
        return Err(format!("must not be the unspecified address {ip}"));
    }
    if ip.is_multicast() {
        return Err(format!("must not be a multicast address ({ip})"));
    }
    if let IpAddr::V4(v4) = ip {
        if v4.is_broadcast() {
            return Err("must not be the broadcast address 255.255.255.255".to_owned());
        }
    }
    Ok(ip)
}

pub(super) fn endpoint(c: &mut Checker, doc: &EndpointDoc) -> Option<Endpoint> {
    let spec = &doc.spec;
    let name = c.name("name", &doc.name);
    let service = c.name("spec.service", &spec.service);
    let address = c.check("spec.address", check_address(&spec.address));
    let port = c.port("spec.port", spec.port);
    let weight = match spec.weight {
        None => Some(1),
        Some(w) => c.uint("spec.weight", w, 0, ENDPOINT_WEIGHT_MAX),
    };
    let zone = match &spec.zone {
        None => Some(None),
        Some(z) => c
            .check("spec.zone", check_zone(z))
            .map(|()| Some(z.clone())),
    };
    c.list_len("spec.labels", spec.labels.len(), LABELS_MAX);
    let mut labels_ok = true;
    for (key, value) in &spec.labels {
        let path = format!("spec.labels[{key:?}]");
        labels_ok &= c.check(&path, check_label_key(key)).is_some();
        labels_ok &= c.check(&path, check_label_value(value)).is_some();
    }
    Some(Endpoint {
        name: name?,
        service: service?,
        address: address?,
        port: port?,
        weight: weight?,
        zone: zone?,
        labels: labels_ok.then(|| spec.labels.clone())?,
    })
}
