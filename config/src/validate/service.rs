//! Service documents: name, connect timeout (a duration greater than zero,
//! default [`DEFAULT_CONNECT_TIMEOUT`]) and `hashHeader` (a header name,
//! only with `loadBalancer: ring_hash`).

use super::Checker;
use crate::model::{HeaderName, Service, DEFAULT_CONNECT_TIMEOUT};
use crate::spec::{LoadBalancer, ServiceDoc};
use std::time::Duration;

pub(super) fn service(c: &mut Checker, doc: &ServiceDoc) -> Option<Service> {
    let name = c.name("name", &doc.name);
    let spec = &doc.spec;
    let connect_timeout = match &spec.connect_timeout {
        None => Some(DEFAULT_CONNECT_TIMEOUT),
        Some(s) => match c.duration("spec.connectTimeout", s) {
            Some(Duration::ZERO) => {
                c.report("spec.connectTimeout", "must be greater than 0s");
                None
            }
            other => other,
        },
    };
    let hash_header = match &spec.hash_header {
        None => Some(None),
        Some(h) => {
            let parsed = c.check("spec.hashHeader", HeaderName::parse(h));
            if spec.load_balancer != LoadBalancer::RingHash {
                c.report(
                    "spec.hashHeader",
                    format!(
                        "only valid with loadBalancer ring_hash (not {})",
                        spec.load_balancer.as_str()
                    ),
                );
                None
            } else {
                parsed.map(Some)
            }
        }
    };
    Some(Service {
        name: name?,
        protocol: spec.protocol,
        load_balancer: spec.load_balancer,
        connect_timeout: connect_timeout?,
        hash_header: hash_header?,
    })
}
