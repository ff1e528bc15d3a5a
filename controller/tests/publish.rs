//! The push path in-process: a real listener on 127.0.0.1, the publisher,
//! the admin endpoints, and the router-side client following the table.

use mesh_config::spec::{RouteSpec, ServiceSpec};
use mesh_config::table::{
    EndpointEntry, Health, Part, PartBody, RoutePart, RouteTable, ServicePart,
};
use mesh_config::wire::{Outcome, Report, ToRouter};
use mesh_controller::admin::{self, Readiness};
use mesh_controller::client::{self, ClientError, Subscription, TableFollower};
use mesh_controller::metrics::Metrics;
use mesh_controller::publish::Publisher;
use mesh_testkit::{eventually, scaled};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};

const WAIT: Duration = Duration::from_secs(10);

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

/// A controller listener: publisher and admin endpoints, served until drop.
struct Server {
    url: String,
    publisher: Publisher,
    readiness: watch::Sender<Readiness>,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(heartbeat: Duration) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let metrics = Metrics::new().expect("metrics");
        let publisher = Publisher::new("test-controller".into(), metrics.clone(), heartbeat);
        let (readiness, readiness_rx) = watch::channel(Readiness::default());
        let app = admin::router(publisher.clone(), metrics, readiness_rx);
        let (shutdown, shutdown_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(admin::serve(listener, app, async move {
            let _ = shutdown_rx.await;
        }));
        Server {
            url,
            publisher,
            readiness,
            shutdown: Some(shutdown),
            task,
        }
    }

    async fn subscribe(&self, router: &str) -> Subscription {
        Subscription::connect(&self.url, router, WAIT)
            .await
            .expect("subscribes")
    }

    async fn get(&self, path: &str) -> (u16, String) {
        client::get(&format!("{}{path}", self.url), WAIT)
            .await
            .expect("GET answers")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The next message that is not a heartbeat.
async fn next_change(sub: &mut Subscription) -> ToRouter {
    tokio::time::timeout(scaled(WAIT), async {
        loop {
            match sub.next().await.expect("reads a message") {
                Some(ToRouter::Heartbeat { .. }) => continue,
                Some(msg) => return msg,
                None => panic!("stream closed"),
            }
        }
    })
    .await
    .expect("a table message in time")
}

async fn next_msg(sub: &mut Subscription) -> Option<ToRouter> {
    tokio::time::timeout(scaled(WAIT), sub.next())
        .await
        .expect("a message in time")
        .expect("reads a message")
}

fn assert_snapshot_of(msg: &ToRouter, t: &RouteTable) {
    match msg {
        ToRouter::Snapshot {
            revision,
            table_hash,
            parts,
        } => {
            assert_eq!(*revision, t.revision);
            assert_eq!(*table_hash, t.hash());
            assert_eq!(parts, &t.parts.values().cloned().collect::<Vec<_>>());
        }
        other => panic!("expected a snapshot, got {other:?}"),
    }
}

#[tokio::test]
async fn snapshot_on_connect_and_delta_with_exactly_the_changed_part() {
    let server = Server::start(Duration::from_secs(30)).await;
    let t1 = table(
        5,
        vec![service("a", 1), service("b", 2), route("r", "x.example")],
    );
    server.publisher.publish(Arc::clone(&t1));
    let mut sub = server.subscribe("r1").await;
    assert_snapshot_of(&next_change(&mut sub).await, &t1);

    let t2 = table(
        6,
        vec![service("a", 1), service("b", 3), route("r", "x.example")],
    );
    assert!(server.publisher.publish(Arc::clone(&t2)));
    match next_change(&mut sub).await {
        ToRouter::Delta {
            revision,
            base_revision,
            base_hash,
            table_hash,
            changes,
        } => {
            assert_eq!((revision, base_revision), (6, 5));
            assert_eq!((base_hash, table_hash), (t1.hash(), t2.hash()));
            assert_eq!(changes.upserts, vec![service("b", 3)]);
            assert!(changes.removes.is_empty());
        }
        other => panic!("expected a delta, got {other:?}"),
    }
}

#[tokio::test]
async fn a_subscriber_before_the_first_publish_gets_the_snapshot() {
    let server = Server::start(Duration::from_millis(100)).await;
    let mut sub = server.subscribe("early").await;
    // Heartbeats say "no table yet" while there is none.
    assert_eq!(
        next_msg(&mut sub).await,
        Some(ToRouter::Heartbeat {
            revision: 0,
            table_hash: 0
        })
    );
    let t1 = table(2, vec![service("a", 1)]);
    server.publisher.publish(Arc::clone(&t1));
    assert_snapshot_of(&next_change(&mut sub).await, &t1);
}

#[tokio::test]
async fn the_same_content_sends_nothing_but_heartbeats() {
    let server = Server::start(Duration::from_millis(200)).await;
    let t1 = table(3, vec![service("a", 1)]);
    server.publisher.publish(Arc::clone(&t1));
    let mut sub = server.subscribe("r1").await;
    assert_snapshot_of(&next_msg(&mut sub).await.expect("a message"), &t1);
    assert!(!server.publisher.publish(table(4, vec![service("a", 1)])));
    let started = Instant::now();
    assert_eq!(
        next_msg(&mut sub).await,
        Some(ToRouter::Heartbeat {
            revision: 3,
            table_hash: t1.hash()
        })
    );
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "after the silence"
    );
}

#[tokio::test]
async fn two_subscribers_get_the_same_messages() {
    let server = Server::start(Duration::from_secs(30)).await;
    server.publisher.publish(table(1, vec![service("a", 1)]));
    let mut subs = [server.subscribe("r1").await, server.subscribe("r2").await];
    let mut followers = [TableFollower::new(), TableFollower::new()];
    let t2 = table(2, vec![service("a", 1), service("b", 1)]);
    for (sub, follower) in subs.iter_mut().zip(&mut followers) {
        follower
            .apply(next_change(sub).await)
            .expect("snapshot applies");
    }
    server.publisher.publish(Arc::clone(&t2));
    for (sub, follower) in subs.iter_mut().zip(&mut followers) {
        let msg = next_change(sub).await;
        assert!(matches!(msg, ToRouter::Delta { .. }), "{msg:?}");
        assert_eq!(follower.apply(msg).expect("delta applies"), Some(&*t2));
    }
}

#[tokio::test]
async fn a_slow_subscriber_skips_to_the_latest_table() {
    let server = Server::start(Duration::from_secs(30)).await;
    server.publisher.publish(table(1, vec![service("a", 1)]));
    let mut sub = server.subscribe("slow").await;
    let mut follower = TableFollower::new();
    follower
        .apply(next_change(&mut sub).await)
        .expect("snapshot");
    // 50 tables while the subscriber reads nothing.
    let mut last = None;
    for i in 2..52 {
        let t = table(i, vec![service("a", 1), service("b", i as u16)]);
        assert!(server.publisher.publish(Arc::clone(&t)));
        last = Some(t);
    }
    let last = last.expect("published");
    let mut deltas = 0;
    while follower.table().map(RouteTable::hash) != Some(last.hash()) {
        follower
            .apply(next_change(&mut sub).await)
            .expect("applies");
        deltas += 1;
    }
    assert_eq!(follower.table(), Some(&*last));
    assert!(deltas < 50, "{deltas} deltas for 50 tables");
}

#[tokio::test]
async fn reports_show_in_the_fleet_view_and_metrics_and_leave_with_the_stream() {
    let server = Server::start(Duration::from_secs(30)).await;
    let t1 = table(10, vec![service("a", 1)]);
    server.publisher.publish(Arc::clone(&t1));
    let mut sub = server.subscribe("r1").await;
    next_change(&mut sub).await;
    let applied = Report {
        router: "r1".into(),
        revision: 10,
        table_hash: t1.hash(),
        offered_revision: 10,
        outcome: Outcome::Applied,
    };
    client::report(&server.url, &applied, WAIT)
        .await
        .expect("report accepted");

    let (status, body) = server.get("/v1/fleet").await;
    assert_eq!(status, 200);
    let fleet: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(fleet["controller"], "test-controller");
    assert_eq!(fleet["routers"][0]["router"], "r1", "{body}");
    assert_eq!(fleet["routers"][0]["revision"], 10, "{body}");

    // A newer table the router has not applied yet: lag 4.
    server.publisher.publish(table(14, vec![service("a", 2)]));
    let (_, metrics) = server.get("/metrics").await;
    assert!(
        metrics.contains("mesh_controller_router_lag_revisions{router=\"r1\"} 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("mesh_controller_routers_connected 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("mesh_controller_table_revision 14"),
        "{metrics}"
    );

    // A report from a router with no stream is refused.
    let stranger = Report {
        router: "r9".into(),
        ..applied.clone()
    };
    match client::report(&server.url, &stranger, WAIT).await {
        Err(ClientError::Status { status: 409, .. }) => {}
        other => panic!("expected 409, got {other:?}"),
    }

    drop(sub);
    eventually("r1 to leave the fleet", WAIT, || async {
        let (_, body) = server.get("/v1/fleet").await;
        let (_, metrics) = server.get("/metrics").await;
        body.contains("\"routers\":[]")
            && metrics.contains("mesh_controller_routers_connected 0")
            && !metrics.contains("router=\"r1\"")
    })
    .await
    .expect("closed stream leaves the fleet");
}

#[tokio::test]
async fn a_second_stream_with_the_same_id_replaces_the_first() {
    let server = Server::start(Duration::from_secs(30)).await;
    server.publisher.publish(table(1, vec![service("a", 1)]));
    let mut old = server.subscribe("r1").await;
    next_change(&mut old).await;
    let mut new = server.subscribe("r1").await;
    next_change(&mut new).await;
    assert_eq!(next_msg(&mut old).await, None, "the old stream ends");
    let fleet = server.publisher.fleet();
    assert!(fleet.borrow().contains_key("r1"), "the router stays");
}

#[tokio::test]
async fn ready_live_and_table() {
    let server = Server::start(Duration::from_secs(30)).await;
    assert_eq!(server.get("/live").await, (200, "live\n".into()));
    assert_eq!(server.get("/v1/table").await.0, 503);
    let t = table(8, vec![service("a", 1), route("r", "x.example")]);
    // (publish first, etcd connected, compiled revision) → /ready
    let no_etcd = "503 etcd unreachable; serving last table at revision 9";
    for (publish, etcd_connected, table_revision, expected) in [
        (
            false,
            false,
            None,
            "503 no table compiled yet; etcd unreachable",
        ),
        (false, true, None, "503 no table compiled yet"),
        (true, true, None, "200 ready: serving revision 8"),
        (false, true, Some(9), "200 ready: serving revision 9"),
        (false, false, Some(9), no_etcd),
    ] {
        if publish {
            server.publisher.publish(Arc::clone(&t));
        }
        let readiness = Readiness {
            etcd_connected,
            table_revision,
        };
        server.readiness.send_replace(readiness);
        let (status, body) = server.get("/ready").await;
        assert_eq!(format!("{status} {}", body.trim()), expected);
    }
    let (status, body) = server.get("/v1/table").await;
    assert_eq!(status, 200);
    let served: RouteTable = serde_json::from_str(&body).expect("a table");
    assert_eq!(served, *t);
}

#[tokio::test]
async fn bad_router_ids_are_refused() {
    let server = Server::start(Duration::from_secs(30)).await;
    for (query, reason) in [
        ("", "missing query parameter `router`"),
        ("?router=", "router id is empty"),
        ("?router=a%2Fb", "contains '/'"),
    ] {
        let (status, body) = server.get(&format!("/v1/subscribe{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains(reason), "{query}: {body}");
        assert_eq!(body.trim_end().lines().count(), 1, "one line: {body}");
    }
    match Subscription::connect(&server.url, "a b", WAIT).await {
        Err(ClientError::RouterId(_)) => {}
        other => panic!("expected a router id error, got {other:?}"),
    }
}

#[tokio::test]
async fn shutdown_ends_the_streams() {
    let mut server = Server::start(Duration::from_secs(30)).await;
    server.publisher.publish(table(1, vec![service("a", 1)]));
    let mut sub = server.subscribe("r1").await;
    next_change(&mut sub).await;
    server
        .shutdown
        .take()
        .expect("once")
        .send(())
        .expect("server runs");
    assert_eq!(next_msg(&mut sub).await, None);
    let served = tokio::time::timeout(scaled(WAIT), &mut server.task)
        .await
        .expect("serve returns after shutdown")
        .expect("serve task did not panic");
    served.expect("serve ends cleanly");
}

#[tokio::test]
async fn a_line_over_the_limit_is_an_error() {
    let server = Server::start(Duration::from_secs(30)).await;
    let parts = (0..100).map(|i| service(&format!("s{i}"), 1)).collect();
    server.publisher.publish(table(1, parts));
    let mut sub = server.subscribe("r1").await;
    sub.set_max_line(1000);
    match sub.next().await {
        Err(ClientError::LineTooLong { limit: 1000 }) => {}
        other => panic!("expected a line-too-long error, got {other:?}"),
    }
}

/// A random table: services s0..s19 and routes r0..r19, each present with
/// probability 2/3, with random content.
fn random_table(rng: &mut fastrand::Rng, revision: i64) -> Arc<RouteTable> {
    let mut parts = Vec::new();
    for i in 0..20 {
        if rng.u8(0..3) > 0 {
            parts.push(service(&format!("s{i}"), rng.u16(1..4)));
        }
        if rng.u8(0..3) > 0 {
            parts.push(route(
                &format!("r{i}"),
                &format!("h{}.example", rng.u8(0..3)),
            ));
        }
    }
    table(revision, parts)
}

#[tokio::test]
async fn a_follower_ends_with_the_published_table_after_random_publishes() {
    let server = Server::start(Duration::from_millis(50)).await;
    let mut rng = fastrand::Rng::with_seed(7);
    server.publisher.publish(random_table(&mut rng, 1));
    let mut sub = server.subscribe("r1").await;
    let reader = tokio::spawn(async move {
        let mut follower = TableFollower::new();
        let mut counts = [0usize; 3];
        loop {
            let msg = sub.next().await.expect("reads").expect("stream stays open");
            counts[match msg {
                ToRouter::Snapshot { .. } => 0,
                ToRouter::Delta { .. } => 1,
                ToRouter::Heartbeat { .. } => 2,
            }] += 1;
            let table = follower.apply(msg).expect("every message applies");
            if table.is_some_and(|t| t.revision == 1000) {
                return (follower, counts);
            }
        }
    });
    let mut published = 1;
    for revision in 2..1000 {
        if server.publisher.publish(random_table(&mut rng, revision)) {
            published += 1;
        }
        if revision % 7 == 0 {
            tokio::task::yield_now().await;
        }
    }
    // A final table that surely differs from the one before.
    let mut last = RouteTable::clone(&random_table(&mut rng, 1000));
    last.parts.insert(
        mesh_config::table::PartId::Service("final".into()),
        service("final", 9),
    );
    let last = Arc::new(last);
    assert!(server.publisher.publish(Arc::clone(&last)));
    let (follower, counts) = tokio::time::timeout(scaled(WAIT), reader)
        .await
        .expect("the follower catches up")
        .expect("reader did not panic");
    let table = follower.table().expect("a table");
    assert_eq!(table.hash(), last.hash());
    assert_eq!(table, &*last);
    assert_eq!(counts[0], 1, "one snapshot");
    eprintln!(
        "{published} tables published; follower got {} deltas, {} heartbeats",
        counts[1], counts[2]
    );
}

/// A realistic route: one host, one prefix match, one backend.
fn big_route(i: usize, port: u16) -> Part {
    let spec = serde_json::json!({
        "hostnames": [format!("svc-{i}.example.com")],
        "rules": [{
            "matches": [{ "path": { "type": "PathPrefix", "value": format!("/api/v{port}/{i}") } }],
            "backendRefs": [{ "name": format!("svc-{}", i % 1000), "weight": 1 }]
        }]
    });
    Part::new(PartBody::Route(RoutePart {
        name: format!("route-{i}"),
        created_revision: i as i64,
        spec: serde_json::from_value(spec).expect("a route spec"),
        unresolved_backends: BTreeSet::new(),
    }))
}

async fn pushed_bytes(server: &Server) -> u64 {
    let (_, metrics) = server.get("/metrics").await;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("mesh_controller_pushed_bytes_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("pushed_bytes metric")
}

#[tokio::test]
async fn a_large_table_streams_and_one_change_ships_one_part() {
    let routes: usize = std::env::var("MESH_TEST_ROUTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let server = Server::start(Duration::from_secs(30)).await;
    let started = Instant::now();
    let mut parts: Vec<Part> = (0..routes).map(|i| big_route(i, 1)).collect();
    parts.extend((0..1000).map(|i| service(&format!("svc-{i}"), 1)));
    let t1 = table(1, parts.clone());
    let built = started.elapsed();
    server.publisher.publish(Arc::clone(&t1));

    let started = Instant::now();
    let mut sub = server.subscribe("big").await;
    let mut follower = TableFollower::new();
    follower
        .apply(next_change(&mut sub).await)
        .expect("snapshot");
    let snapshot_time = started.elapsed();
    let snapshot_bytes = pushed_bytes(&server).await;

    parts[routes / 2] = big_route(routes / 2, 2);
    let t2 = table(2, parts);
    let started = Instant::now();
    server.publisher.publish(Arc::clone(&t2));
    let msg = next_change(&mut sub).await;
    let delta_time = started.elapsed();
    assert!(
        matches!(&msg, ToRouter::Delta { changes, .. } if changes.upserts.len() == 1),
        "one part"
    );
    assert_eq!(follower.apply(msg).expect("delta applies"), Some(&*t2));
    let delta_bytes = pushed_bytes(&server).await - snapshot_bytes;
    eprintln!(
        "{routes} routes + 1000 services: built in {built:?}; snapshot {snapshot_bytes} bytes \
         in {snapshot_time:?}; one-route delta {delta_bytes} bytes in {delta_time:?}"
    );
    assert!(delta_bytes < 2048, "delta of {delta_bytes} bytes");
}
