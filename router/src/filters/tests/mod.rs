//! Tests of the filters, on the plain header list and on pingora's header
//! types, with the Gateway API conformance cases for rewrites, redirects
//! and header modifiers.

mod forward;
mod paths;

use super::*;
use mesh_config::model::{HeaderName, Match, PathMatch};

pub(super) fn name(s: &str) -> HeaderName {
    HeaderName::parse(s).expect("header name")
}

pub(super) fn prefix(p: &str) -> Match {
    Match {
        path: PathMatch::Prefix(p.into()),
        headers: vec![],
        query_params: vec![],
        method: None,
    }
}

pub(super) fn exact(p: &str) -> Match {
    Match {
        path: PathMatch::Exact(p.into()),
        ..prefix("/")
    }
}

/// The conformance test's header modifier (names as written there; stored
/// lower-case).
fn conformance_edits() -> HeaderEdits {
    HeaderEdits {
        set: vec![(name("X-Header-Set"), "set-overwrites-values".into())],
        add: vec![
            (name("X-Header-Add"), "header-val-1".into()),
            (name("X-Header-Add-Append"), "header-val-2".into()),
        ],
        remove: vec![name("X-Header-Remove")],
    }
}

pub(super) fn texts<'a, H: HeaderTarget>(h: &'a H, n: &str) -> Vec<&'a str> {
    h.values(n)
        .map(|v| std::str::from_utf8(v).expect("utf-8"))
        .collect()
}

fn check_conformance_edits<H: HeaderTarget>(h: &mut H) {
    for (n, v) in [
        ("X-Header-Remove", "remove-val"),
        ("X-Header-Add-Append", "append-val-1"),
        ("X-Header-Set", "set-val"),
        ("x-header-set", "second-val"),
        (
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ),
    ] {
        h.add(n, v).expect("add");
    }
    apply_header_edits(&conformance_edits(), h).expect("edits");
    assert!(!h.contains("x-header-remove"));
    assert_eq!(texts(h, "x-header-add"), ["header-val-1"]);
    assert_eq!(
        texts(h, "X-HEADER-ADD-APPEND"),
        ["append-val-1", "header-val-2"]
    );
    assert_eq!(texts(h, "x-header-set"), ["set-overwrites-values"]);
    assert_eq!(texts(h, "traceparent").len(), 1);
}

#[test]
fn header_edits_follow_gateway_api() {
    check_conformance_edits(&mut HeaderList::new());
    check_conformance_edits(&mut RequestHeader::build("GET", b"/", None).expect("request"));
    check_conformance_edits(&mut ResponseHeader::build(200, None).expect("response"));
    // Empty edits change nothing; removing an absent header is fine.
    let mut h: HeaderList = [("a", "1")].into_iter().collect();
    apply_header_edits(&HeaderEdits::default(), &mut h).expect("edits");
    let edits = HeaderEdits {
        remove: vec![name("absent")],
        ..HeaderEdits::default()
    };
    apply_header_edits(&edits, &mut h).expect("edits");
    assert_eq!(h.get_all("a"), ["1"]);
}

#[test]
fn pingora_headers_reach_the_wire() {
    let mut req = RequestHeader::build("GET", b"/", None).expect("request");
    req.add("Accept", "*/*").expect("add");
    apply_header_edits(&conformance_edits(), &mut req).expect("edits");
    let mut wire = Vec::new();
    req.header_to_h1_wire(&mut wire);
    let wire = String::from_utf8(wire).expect("utf-8");
    assert!(
        wire.contains("x-header-set: set-overwrites-values\r\n"),
        "{wire}"
    );
    assert!(wire.contains("Accept: */*\r\n"), "{wire}");
    // Values the header types refuse are errors, not panics.
    assert!(req.set("x-bad", "a\r\nb").is_err());
    assert!(req.add("bad name", "v").is_err());
    assert!(HeaderList::new().set("x-bad", "a\nb").is_err());
    let err = req.set_static("x-bad", "\0").expect_err("refused");
    assert_eq!(err.name, "x-bad");
}
