//! Unit tests of the publisher's encoding and fleet bookkeeping.

use super::stream::{SnapshotRef, TableRef};
use super::*;
use mesh_config::spec::{RouteSpec, ServiceSpec};
use mesh_config::table::{EndpointEntry, Health, Part, PartBody, RoutePart, ServicePart};
use mesh_config::wire::ToRouter;
use std::collections::BTreeSet;

fn service(name: &str, port: u16) -> Part {
    Part::new(PartBody::Service(ServicePart {
        name: name.to_owned(),
        spec: ServiceSpec::default(),
        endpoints: vec![EndpointEntry {
            name: format!("{name}-1"),
            address: "127.0.0.1".to_owned(),
            port,
            weight: 1,
            zone: None,
            labels: BTreeMap::new(),
            health: Health::Unknown,
        }],
        implicit_hostnames: vec![name.to_owned(), format!("{name}.mesh")],
    }))
}

fn route(name: &str, host: &str) -> Part {
    Part::new(PartBody::Route(RoutePart {
        name: name.to_owned(),
        created_revision: 1,
        spec: RouteSpec {
            hostnames: vec![host.to_owned()],
            rules: vec![],
        },
        unresolved_backends: BTreeSet::new(),
    }))
}

fn table(revision: i64, parts: Vec<Part>) -> Arc<RouteTable> {
    Arc::new(RouteTable::from_parts(revision, parts).expect("valid parts"))
}

fn publisher() -> Publisher {
    Publisher::new(
        "c1".into(),
        Metrics::new().expect("metrics"),
        Duration::from_secs(60),
    )
}

#[test]
fn borrowed_encodings_match_the_owned_ones() {
    let t = table(
        7,
        vec![service("a", 1), route("r", "x.example"), service("b", 2)],
    );
    let owned = ToRouter::Snapshot {
        revision: 7,
        table_hash: t.hash(),
        parts: t.parts.values().cloned().collect(),
    };
    let borrowed = SnapshotRef {
        table: Arc::clone(&t),
        hash: t.hash(),
    };
    assert_eq!(
        serde_json::to_string(&borrowed).expect("serializes"),
        serde_json::to_string(&owned).expect("serializes")
    );
    assert_eq!(
        serde_json::to_string(&TableRef(Arc::clone(&t))).expect("serializes"),
        serde_json::to_string(&*t).expect("serializes")
    );
}

#[test]
fn publishing_the_same_content_is_a_no_op() {
    let p = publisher();
    assert!(p.current().is_none());
    assert!(p.publish(table(3, vec![service("a", 1)])));
    assert!(!p.publish(table(4, vec![service("a", 1)])));
    assert_eq!(p.current().map(|t| t.revision), Some(3));
    assert!(p.publish(table(5, vec![service("a", 2)])));
    assert_eq!(p.current().map(|t| t.revision), Some(5));
    assert_eq!(p.shared.metrics.table_revision.get(), 5);
}

fn report(router: &str, revision: i64, hash: u64) -> Report {
    Report {
        router: router.into(),
        revision,
        table_hash: hash,
        offered_revision: revision,
        outcome: Outcome::Applied,
    }
}

#[test]
fn fleet_follows_streams_and_reports() {
    let p = publisher();
    let t1 = table(3, vec![service("a", 1)]);
    let t2 = table(9, vec![service("a", 2)]);
    p.publish(Arc::clone(&t1));
    let lag = |r: &str| p.shared.metrics.router_lag.with_label_values(&[r]).get();

    assert_eq!(
        p.report(report("r1", 3, t1.hash())),
        Err(PublishError::NotSubscribed("r1".into()))
    );
    assert!(matches!(
        p.report(report("a/b", 3, 0)),
        Err(PublishError::InvalidRouterId(_))
    ));

    let (g1, _stop1) = p.register("r1".into());
    let fleet = p.fleet();
    assert_eq!(fleet.borrow()["r1"].revision, 0, "not reported yet");
    assert_eq!(p.shared.metrics.routers_connected.get(), 1);

    p.report(report("r1", 3, t1.hash())).expect("subscribed");
    assert_eq!(fleet.borrow()["r1"].lag(), 0);
    assert_eq!(lag("r1"), 0);

    p.publish(Arc::clone(&t2));
    let status = fleet.borrow()["r1"].clone();
    assert_eq!(
        (status.published_revision, status.published_hash),
        (9, t2.hash())
    );
    assert_eq!(status.lag(), 6);
    assert_eq!(lag("r1"), 6);

    p.report(Report {
        outcome: Outcome::Rejected {
            reason: "bad route".into(),
        },
        ..report("r1", 3, t1.hash())
    })
    .expect("subscribed");
    assert_eq!(fleet.borrow()["r1"].rejected.as_deref(), Some("bad route"));

    // A second stream replaces the first; closing the first keeps the router.
    let (g2, stop2) = p.register("r1".into());
    assert!(*_stop1.borrow(), "the old stream is told to stop");
    drop(g1);
    assert!(fleet.borrow().contains_key("r1"));
    assert_eq!(p.shared.metrics.routers_connected.get(), 1);
    drop(g2);
    assert!(*stop2.borrow());
    assert!(!fleet.borrow().contains_key("r1"));
    assert_eq!(p.shared.metrics.routers_connected.get(), 0);
    let text = p.shared.metrics.render().expect("renders");
    assert!(!text.contains("router=\"r1\""), "{text}");
}
