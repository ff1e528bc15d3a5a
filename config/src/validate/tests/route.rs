//! Routes: name, hostnames, rules and their limits, timeouts, retries.

use super::*;
use crate::model::{Hostname, PathMatch, Retry, Timeouts};
use std::time::Duration;

#[test]
fn empty_route_gets_one_default_rule() {
    let r = accept_route("kind: Route\nname: orders\n");
    assert_eq!(r.name.as_str(), "orders");
    assert!(r.hostnames.is_empty());
    assert_eq!(r.rules.len(), 1);
    let rule = &r.rules[0];
    assert_eq!(rule.matches.len(), 1);
    assert_eq!(rule.matches[0].path, PathMatch::Prefix("/".into()));
    assert!(rule.backends.is_empty() && rule.filters.is_empty() && rule.retry.is_none());
    assert_eq!(rule.timeouts, Timeouts::default());
}

#[test]
fn route_name() {
    refuse("kind: Route\nname: orders.v2\n", "name", "found '.'");
    refuse(
        &format!("kind: Route\nname: {}\n", "a".repeat(64)),
        "name",
        "at most 63",
    );
}

#[test]
fn hostnames() {
    let r = accept_route(&route(
        "{hostnames: [orders.example.com, '*.example.com', orders]}",
    ));
    assert_eq!(
        r.hostnames,
        [
            Hostname::Exact("orders.example.com".into()),
            Hostname::Wildcard(".example.com".into()),
            Hostname::Exact("orders".into()),
        ]
    );
    let at = |h: &str, fragment: &str| {
        refuse(
            &route(&format!("{{hostnames: [ok.example.com, '{h}']}}")),
            "spec.hostnames[1]",
            fragment,
        )
    };
    at("Orders.example.com", "lower-case");
    at("10.0.0.1", "not an IP address");
    at("2001:db8::1", "not an IP address");
    at("foo.123", "all-digit label");
    at("a.*.com", "whole first label");
    at("*", "whole first label");
    at("a_b.example.com", "found '_'");
    at("-a.example.com", "start and end");
    at("example.com.", "empty label");
    at(&format!("{}.com", "a".repeat(64)), "at most 63 characters");
    at(&"a.".repeat(127), "at most 253 characters");
    at("", "must not be empty");
    at("ok.example.com", "duplicate of spec.hostnames[0]");
    let many = items(17, |i| format!("h{i}.example.com"));
    refuse(
        &route(&format!("{{hostnames: [{many}]}}")),
        "spec.hostnames",
        "at most 16 entries (has 17)",
    );
}

#[test]
fn rules() {
    let sixteen = items(16, |_| "{}".into());
    assert_eq!(
        accept_route(&route(&format!("{{rules: [{sixteen}]}}")))
            .rules
            .len(),
        16
    );
    let seventeen = items(17, |_| "{}".into());
    refuse(
        &route(&format!("{{rules: [{seventeen}]}}")),
        "spec.rules",
        "at most 16 entries (has 17)",
    );
}

#[test]
fn rule_names() {
    let r = accept_route(&route("{rules: [{name: canary}, {name: stable}, {}]}"));
    assert_eq!(r.rules[0].name.as_ref().map(|n| n.as_str()), Some("canary"));
    assert_eq!(r.rules[2].name, None);
    refuse(&rule("{name: Canary}"), "spec.rules[0].name", "found 'C'");
    refuse(
        &route("{rules: [{name: a}, {name: b}, {name: a}]}"),
        "spec.rules[2].name",
        "duplicate of spec.rules[0].name",
    );
}

#[test]
fn match_limits() {
    let m = |i: usize| format!("{{path: {{value: /p{i}}}}}");
    let r = first_rule(&rule(&format!("{{matches: [{}]}}", items(64, m))));
    assert_eq!(r.matches.len(), 64);
    refuse(
        &rule(&format!("{{matches: [{}]}}", items(65, m))),
        "spec.rules[0].matches",
        "at most 64 entries (has 65)",
    );
    let rule_of = |n| format!("{{matches: [{}]}}", items(n, m));
    let ok = items(2, |_| rule_of(64));
    accept(&route(&format!("{{rules: [{ok}]}}")));
    let too_many = format!("{}, {}", items(2, |_| rule_of(64)), rule_of(1));
    refuse(
        &route(&format!("{{rules: [{too_many}]}}")),
        "spec.rules",
        "at most 128 matches in all rules together (has 129)",
    );
}

#[test]
fn timeouts() {
    let t = |timeouts: &str| first_rule(&rule(&format!("{{timeouts: {timeouts}}}"))).timeouts;
    assert_eq!(
        t("{request: 5s, backendRequest: 1s}"),
        Timeouts {
            request: Some(Duration::from_secs(5)),
            backend_request: Some(Duration::from_secs(1)),
        }
    );
    assert_eq!(t("{request: 0s, backendRequest: 0s}"), Timeouts::default());
    assert_eq!(
        t("{request: 0s, backendRequest: 1h}").backend_request,
        Some(Duration::from_secs(3600))
    );
    assert_eq!(
        t("{request: 2s, backendRequest: 2s}").request,
        Some(Duration::from_secs(2))
    );
    assert_eq!(t("{}"), Timeouts::default());

    refuse(
        &rule("{timeouts: {request: '5'}}"),
        "spec.rules[0].timeouts.request",
        "not a duration",
    );
    refuse(
        &rule("{timeouts: {backendRequest: 1d}}"),
        "spec.rules[0].timeouts.backendRequest",
        "not a duration",
    );
    refuse(
        &rule("{timeouts: {request: 1s, backendRequest: 1500ms}}"),
        "spec.rules[0].timeouts.backendRequest",
        "must not be longer than request (1s)",
    );
}

#[test]
fn retry() {
    let r = |retry: &str| first_rule(&rule(&format!("{{retry: {retry}}}"))).retry;
    assert_eq!(
        r("{codes: [500, 503], attempts: 3, backoff: 100ms}"),
        Some(Retry {
            codes: vec![500, 503],
            attempts: 3,
            backoff: Some(Duration::from_millis(100)),
        })
    );
    assert_eq!(
        r("{codes: [503]}"),
        Some(Retry {
            codes: vec![503],
            attempts: 1,
            backoff: None,
        })
    );
    assert_eq!(
        r("{attempts: 0, backoff: 0s}").map(|r| (r.attempts, r.backoff)),
        Some((0, Some(Duration::ZERO)))
    );
    assert_eq!(
        r("{codes: [400, 599], attempts: 10}").map(|r| r.attempts),
        Some(10)
    );

    let base = "spec.rules[0].retry";
    refuse(
        &rule("{retry: {codes: [399]}}"),
        &format!("{base}.codes[0]"),
        "between 400 and 599",
    );
    refuse(
        &rule("{retry: {codes: [500, 600]}}"),
        &format!("{base}.codes[1]"),
        "between 400 and 599",
    );
    refuse(
        &rule("{retry: {codes: [503, 500, 503]}}"),
        &format!("{base}.codes[2]"),
        "duplicate of codes[0]",
    );
    let many = items(17, |i| (500 + i).to_string());
    refuse(
        &rule(&format!("{{retry: {{codes: [{many}]}}}}")),
        &format!("{base}.codes"),
        "at most 16 entries",
    );
    refuse(
        &rule("{retry: {attempts: 11}}"),
        &format!("{base}.attempts"),
        "between 0 and 10",
    );
    refuse(
        &rule("{retry: {attempts: -1}}"),
        &format!("{base}.attempts"),
        "between 0 and 10",
    );
    refuse(
        &rule("{retry: {backoff: fast}}"),
        &format!("{base}.backoff"),
        "not a duration",
    );
}
