//! Forwarding headers, request ids and hop-by-hop headers.

use super::super::*;
use super::texts;
use proptest::prelude::*;
use std::net::IpAddr;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

#[test]
fn forwarded_for_appends_the_client() {
    assert_eq!(forwarded_for(None, ip("10.0.0.1")), "10.0.0.1");
    assert_eq!(forwarded_for(Some(""), ip("10.0.0.1")), "10.0.0.1");
    assert_eq!(
        forwarded_for(Some(" 1.1.1.1 "), ip("10.0.0.1")),
        "1.1.1.1, 10.0.0.1"
    );
    assert_eq!(
        forwarded_for(Some("a, b"), ip("2001:db8::1")),
        "a, b, 2001:db8::1"
    );
    assert_eq!(forwarded_for(None, ip("::ffff:10.0.0.1")), "10.0.0.1");

    let mut h: HeaderList = [
        ("X-Forwarded-For", "1.1.1.1"),
        ("x-forwarded-for", "2.2.2.2, 3.3.3.3"),
    ]
    .into_iter()
    .collect();
    add_forwarded_for(&mut h, ip("10.0.0.1")).expect("set");
    assert_eq!(
        h.get_all("x-forwarded-for"),
        ["1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.1"]
    );
    let mut req = RequestHeader::build("GET", b"/", None).expect("request");
    add_forwarded_for(&mut req, ip("::1")).expect("set");
    assert_eq!(texts(&req, X_FORWARDED_FOR), ["::1"]);
    assert_eq!(
        (forwarded_proto(true), forwarded_proto(false)),
        ("https", "http")
    );
}

#[test]
fn request_ids() {
    let a = new_request_id();
    let b = new_request_id();
    assert_ne!(a, b);
    assert_eq!(a.as_str().len(), 32);
    assert!(a
        .as_str()
        .bytes()
        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
    assert_eq!(a.to_string(), a.as_str());
    assert!(format!("{a:?}").contains(a.as_str()));

    let mut h = HeaderList::new();
    let id = ensure_request_id(&mut h).expect("set").expect("generated");
    assert_eq!(h.get_all(X_REQUEST_ID), [id.as_str()]);
    assert_eq!(ensure_request_id(&mut h).expect("kept"), None);
    assert_eq!(h.get_all(X_REQUEST_ID), [id.as_str()]);
    let mut h: HeaderList = [("X-Request-Id", " ")].into_iter().collect();
    assert!(ensure_request_id(&mut h).expect("set").is_some());
    let mut req = RequestHeader::build("GET", b"/", None).expect("request");
    let id = ensure_request_id(&mut req)
        .expect("set")
        .expect("generated");
    assert_eq!(texts(&req, "x-request-id"), [id.as_str()]);
}

fn hop_request<H: HeaderTarget>(h: &mut H) {
    for (n, v) in [
        ("Host", "orders.mesh"),
        ("Connection", "keep-alive, X-Secret"),
        ("connection", "Host, content-length, x-forwarded-for, :path"),
        ("Keep-Alive", "timeout=5"),
        ("Proxy-Connection", "keep-alive"),
        ("TE", "trailers"),
        ("Trailer", "x-checksum"),
        ("Transfer-Encoding", "chunked"),
        ("Upgrade", "websocket"),
        ("Proxy-Authenticate", "Basic"),
        ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
        ("X-Secret", "hop"),
        ("Content-Length", "0"),
        ("X-Forwarded-For", "1.1.1.1"),
        (
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ),
        ("tracestate", "a=b"),
    ] {
        h.add(n, v).expect("add");
    }
}

fn check_stripped<H: HeaderTarget>(h: &mut H) {
    hop_request(h);
    strip_hop_by_hop(h, Keep::default());
    for gone in HOP_BY_HOP
        .iter()
        .filter(|n| **n != "te")
        .chain(&["x-secret"])
    {
        assert!(!h.contains(gone), "{gone}");
    }
    for kept in [
        "host",
        "content-length",
        "x-forwarded-for",
        "traceparent",
        "tracestate",
    ] {
        assert!(h.contains(kept), "{kept}");
    }
    assert_eq!(texts(h, "te"), ["trailers"]);
}

#[test]
fn hop_by_hop_headers_are_stripped() {
    check_stripped(&mut HeaderList::new());
    check_stripped(&mut RequestHeader::build("GET", b"/", None).expect("request"));
    check_stripped(&mut ResponseHeader::build(200, None).expect("response"));

    // A WebSocket upgrade keeps its upgrade, with `connection: upgrade`.
    let mut h = HeaderList::new();
    hop_request(&mut h);
    strip_hop_by_hop(
        &mut h,
        Keep {
            upgrade: true,
            framing: false,
        },
    );
    assert_eq!(h.get_all("upgrade"), ["websocket"]);
    assert_eq!(h.get_all("connection"), ["upgrade"]);
    assert!(!h.contains("transfer-encoding") && !h.contains("x-secret"));
    // Without an upgrade header there is nothing to keep.
    let mut h: HeaderList = [("Connection", "close")].into_iter().collect();
    strip_hop_by_hop(
        &mut h,
        Keep {
            upgrade: true,
            framing: true,
        },
    );
    assert!(h.entries.is_empty(), "{h:?}");

    // A response keeps its framing, even when `connection` names it.
    let mut resp = ResponseHeader::build(200, None).expect("response");
    resp.add("transfer-encoding", "chunked").expect("add");
    resp.add("connection", "transfer-encoding, keep-alive")
        .expect("add");
    strip_hop_by_hop(
        &mut resp,
        Keep {
            upgrade: false,
            framing: true,
        },
    );
    assert_eq!(texts(&resp, "transfer-encoding"), ["chunked"]);
    assert!(!resp.contains("connection"));
}

#[test]
fn te_keeps_only_trailers() {
    for (values, want) in [
        (&["gzip"][..], &[][..]),
        (&["trailers, deflate"], &["trailers"]),
        (&["deflate;q=0.5", "Trailers"], &["trailers"]),
        (&["trailers"], &["trailers"]),
        (&["trailers", "trailers"], &["trailers"]),
    ] {
        let mut h: HeaderList = values.iter().map(|v| ("te", *v)).collect();
        strip_hop_by_hop(&mut h, Keep::default());
        assert_eq!(h.get_all("te"), want, "{values:?}");
    }
}

#[test]
fn long_connection_lists_are_handled() {
    let names: Vec<String> = (0..40).map(|i| format!("x-hop-header-{i}")).collect();
    let mut h: HeaderList = names.iter().map(|n| (n.as_str(), "v")).collect();
    h.add("connection", &names[..20].join(", ")).expect("add");
    h.add("connection", &names[20..].join(",")).expect("add");
    h.add("x-end-to-end", "v").expect("add");
    strip_hop_by_hop(&mut h, Keep::default());
    assert_eq!(h.entries, [("x-end-to-end".to_owned(), "v".to_owned())]);
}

#[test]
fn forwarded_for_on_pingora_requests() {
    // Without x-forwarded-for the client is added; with one it is appended
    // to every value, joined (also when every value is blank).
    let mut req = RequestHeader::build("GET", b"/", None).expect("request");
    add_forwarded_for(&mut req, ip("10.0.0.1")).expect("set");
    assert_eq!(texts(&req, X_FORWARDED_FOR), ["10.0.0.1"]);
    add_forwarded_for(&mut req, ip("::ffff:192.168.100.9")).expect("set");
    assert_eq!(texts(&req, X_FORWARDED_FOR), ["10.0.0.1, 192.168.100.9"]);
    let mut req = RequestHeader::build("GET", b"/", None).expect("request");
    req.add("X-Forwarded-For", " ").expect("add");
    req.add("x-forwarded-for", "").expect("add");
    add_forwarded_for(&mut req, ip("2001:db8::1")).expect("set");
    assert_eq!(texts(&req, X_FORWARDED_FOR), ["2001:db8::1"]);
}

proptest! {
    #[test]
    fn forwarded_for_writes_addresses_as_display_does(octets in any::<[u8; 16]>(), v4 in any::<bool>()) {
        let addr = if v4 {
            IpAddr::from([octets[0], octets[1], octets[2], octets[3]])
        } else {
            IpAddr::from(octets)
        };
        let mut req = RequestHeader::build("GET", b"/", None).expect("request");
        add_forwarded_for(&mut req, addr).expect("set");
        let want = addr.to_canonical().to_string();
        prop_assert_eq!(texts(&req, X_FORWARDED_FOR), [want.as_str()]);
    }

    #[test]
    fn stripping_arbitrary_connection_lists_never_panics(
        values in prop::collection::vec("[ -~]{0,40}", 0..4),
        upgrade in any::<bool>(),
        framing in any::<bool>(),
    ) {
        let mut req = RequestHeader::build("GET", b"/", None).expect("request");
        let mut list = HeaderList::new();
        for v in &values {
            let _ = req.add("connection", v);
            let _ = req.add("x-end-to-end", v);
            let _ = list.add("connection", v);
        }
        strip_hop_by_hop(&mut req, Keep { upgrade, framing });
        strip_hop_by_hop(&mut list, Keep { upgrade, framing });
        prop_assert!(!req.contains("connection") && !list.contains("connection"));
    }
}
