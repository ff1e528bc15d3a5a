//! The build's checks: a part that does not validate fails the whole build,
//! naming the part and every problem.

use super::{route, service, table};
use crate::lookup::{LookupError, RouteIndex};
use crate::spec::ServiceSpec;
use crate::table::{Part, PartBody, PartId, RoutePart, ServicePart};

fn build_error(parts: Vec<Part>) -> LookupError {
    match RouteIndex::build(&table(parts)) {
        Ok(i) => panic!("built: {i:?}"),
        Err(e) => e,
    }
}

#[test]
fn an_invalid_route_part_fails_the_build() {
    let e = build_error(vec![
        route("good", 1, "{}"),
        route(
            "bad",
            2,
            "{hostnames: ['Upper.example.com'], rules: [{matches: [{path: {type: Exact, value: 'no-slash'}}]}]}",
        ),
    ]);
    let LookupError::InvalidPart { part, problems } = &e else {
        panic!("unexpected error {e:?}");
    };
    assert_eq!(part, &PartId::Route("bad".into()));
    let paths: Vec<&str> = problems.0.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        ["spec.hostnames[0]", "spec.rules[0].matches[0].path.value"]
    );
    let text = e.to_string();
    assert!(
        text.starts_with("table part route bad does not validate:\nroute bad: spec.hostnames[0]: "),
        "{text}"
    );
}

#[test]
fn an_invalid_route_name_fails_the_build() {
    let e = build_error(vec![route("Not_A_Name", 1, "{}")]);
    assert!(
        matches!(e, LookupError::InvalidPart { part: PartId::Route(n), .. } if n == "Not_A_Name")
    );
}

#[test]
fn an_invalid_implicit_hostname_fails_the_build() {
    let e = build_error(vec![service("orders", &["orders", "*.mesh"])]);
    let LookupError::InvalidPart { part, problems } = &e else {
        panic!("unexpected error {e:?}");
    };
    assert_eq!(part, &PartId::Service("orders".into()));
    assert_eq!(problems.0[0].path, "implicitHostnames[1]");
}

#[test]
fn an_invalid_service_spec_fails_the_build() {
    let spec = ServiceSpec {
        connect_timeout: Some("soon".into()),
        ..ServiceSpec::default()
    };
    let part = Part::new(PartBody::Service(ServicePart {
        name: "orders".into(),
        spec,
        endpoints: Vec::new(),
        implicit_hostnames: vec!["orders".into()],
    }));
    let e = build_error(vec![part]);
    let LookupError::InvalidPart { part, problems } = &e else {
        panic!("unexpected error {e:?}");
    };
    assert_eq!(part, &PartId::Service("orders".into()));
    assert_eq!(problems.0[0].path, "spec.connectTimeout");
}

#[test]
fn two_services_with_one_implicit_hostname_fail_the_build() {
    let e = build_error(vec![service("a", &["x.mesh"]), service("b", &["x.mesh"])]);
    assert_eq!(
        e,
        LookupError::DuplicateImplicitHostname {
            hostname: "x.mesh".into(),
            first: "a".into(),
            second: "b".into(),
        }
    );
}

#[test]
fn unresolved_backends_are_carried() {
    let spec = match serde_yaml_ng::from_str("{rules: [{backendRefs: [{name: gone}]}]}") {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let part = Part::new(PartBody::Route(RoutePart {
        name: "r".into(),
        created_revision: 4,
        spec,
        unresolved_backends: ["gone".to_owned()].into(),
    }));
    let i = match RouteIndex::build(&table(vec![part])) {
        Ok(i) => i,
        Err(e) => panic!("{e}"),
    };
    let r = &i.routes()[0];
    assert_eq!(r.unresolved_backends.len(), 1);
    assert_eq!(r.created_revision(), 4);
    assert_eq!(r.part_id(), PartId::Route("r".into()));
}

#[test]
fn the_index_is_shared_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<RouteIndex>();
}
