//! Measures the compile step at 10, 10k and 100k routes:
//!
//! ```text
//! cargo run --release -p mesh-controller --example compile_bench
//! ```
//!
//! Each route has a hostname, two rules (three matches, one with a header)
//! and three weighted backendRefs among 100 services of 3 endpoints each.
//! Prints the time of a compile from scratch, of a compile after one route
//! changed (the same `Compiler`, median of a few runs), and the serialized
//! sizes of the wire messages: a full `Snapshot`, and the `Delta` for that
//! one-route change. For reference, the time of `RouteTable::diff` for that
//! change and of one deep copy of the table (a lower bound of any compile
//! that returns an owned table).

use mesh_config::keys::Keys;
use mesh_config::wire::ToRouter;
use mesh_controller::compile::Compiler;
use mesh_controller::mirror::{Mirror, StoredValue};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SERVICES: usize = 100;
const ENDPOINTS_PER_SERVICE: usize = 3;
const INCREMENTAL_RUNS: usize = 9;

fn route(i: usize, weight: u32) -> Value {
    let svc = |k: usize| format!("svc-{}", (i + k) % SERVICES);
    json!({"kind": "Route", "name": format!("route-{i}"), "spec": {
    "hostnames": [format!("r{i}.example.com")],
    "rules": [
        {"matches": [
            {"path": {"type": "PathPrefix", "value": format!("/api/v{}", i % 3)},
             "headers": [{"name": "x-canary", "value": "true"}]},
            {"path": {"type": "Exact", "value": "/health"}}],
         "backendRefs": [{"name": svc(0), "weight": weight}, {"name": svc(1), "weight": 10}]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
         "backendRefs": [{"name": svc(7)}],
         "timeouts": {"request": "5s"}}
    ]}})
}

struct Etcd {
    mirror: Mirror,
}

impl Etcd {
    fn put(&mut self, key: String, value: &Value) {
        self.mirror.revision += 1;
        let revision = self.mirror.revision;
        let create_revision = self
            .mirror
            .kvs
            .get(&key)
            .map_or(revision, |v| v.create_revision);
        self.mirror.kvs.insert(
            key,
            StoredValue {
                value: Arc::from(value.to_string().into_bytes()),
                create_revision,
                mod_revision: revision,
                lease: 0,
            },
        );
    }
}

fn mirror(routes: usize) -> Etcd {
    let mut etcd = Etcd {
        mirror: Mirror::default(),
    };
    for s in 0..SERVICES {
        let name = format!("svc-{s}");
        etcd.put(
            format!("/mesh/services/{name}"),
            &json!({"kind": "Service", "name": name, "spec": {"connectTimeout": "250ms"}}),
        );
        for e in 0..ENDPOINTS_PER_SERVICE {
            let ep = format!("{name}-{e}");
            etcd.put(
                format!("/mesh/endpoints/{name}/{ep}"),
                &json!({"kind": "Endpoint", "name": ep, "spec": {
                    "service": name, "address": format!("10.0.{}.{}", s, e + 1),
                    "port": 8080, "zone": "a", "labels": {"version": "v1"}}}),
            );
            etcd.put(
                format!("/mesh/health/{name}/{ep}"),
                &json!({"status": "healthy"}),
            );
        }
    }
    for i in 0..routes {
        etcd.put(format!("/mesh/routes/route-{i}"), &route(i, 90));
    }
    etcd
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn bench(routes: usize) {
    let mut etcd = mirror(routes);
    let keys = Keys::default();

    let started = Instant::now();
    let mut compiler = Compiler::new(keys);
    let mut current = compiler.compile(&etcd.mirror);
    let full = started.elapsed();
    assert_eq!(
        current
            .counts
            .total(mesh_controller::status::State::Rejected),
        0
    );

    let snapshot = ToRouter::Snapshot {
        revision: current.table.revision,
        table_hash: current.table.hash(),
        parts: current.table.parts.values().cloned().collect(),
    };
    let snapshot_bytes = serde_json::to_vec(&snapshot)
        .expect("a snapshot serializes")
        .len();

    let mut times = Vec::new();
    let mut delta_bytes = 0;
    let mut diff_time = Duration::ZERO;
    for run in 0..INCREMENTAL_RUNS {
        let changed = routes / 2;
        let weight = 80 - u32::try_from(run).unwrap_or(0);
        etcd.put(
            format!("/mesh/routes/route-{changed}"),
            &route(changed, weight),
        );
        let started = Instant::now();
        let next = compiler.compile(&etcd.mirror);
        times.push(started.elapsed());

        let started = Instant::now();
        let changes = next.table.diff(&current.table);
        diff_time = started.elapsed();
        assert_eq!((changes.upserts.len(), changes.removes.len()), (1, 0));
        let delta = ToRouter::Delta {
            revision: next.table.revision,
            base_revision: current.table.revision,
            base_hash: current.table.hash(),
            table_hash: next.table.hash(),
            changes,
        };
        delta_bytes = serde_json::to_vec(&delta)
            .expect("a delta serializes")
            .len();
        current = next;
    }
    times.sort();
    let started = Instant::now();
    let copy = current.table.clone();
    let clone_time = started.elapsed();
    drop(copy);
    println!(
        "{routes:>7} routes ({} keys): full compile {}, incremental (1 route changed) median {} min {} max {}; \
         diff {}; deep copy of the table {}; snapshot {} bytes, delta {} bytes",
        etcd.mirror.kvs.len(),
        ms(full),
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
        ms(diff_time),
        ms(clone_time),
        snapshot_bytes,
        delta_bytes,
    );
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10, 10_000, 100_000]
    } else {
        sizes
    };
    for routes in sizes {
        bench(routes);
    }
}
