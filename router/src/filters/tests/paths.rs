//! Path rewrites, redirects and mirror sampling, with the Gateway API
//! conformance cases.

use super::super::*;
use super::{exact, prefix};
use mesh_config::model::{Mirror, Name, PathRewrite, Redirect, Scheme};
use proptest::prelude::*;

/// `(matched prefix, replacement, request path, rewritten path)`.
const PREFIX_CASES: &[(&str, &str, &str, &str)] = &[
    // The Gateway API's table (a trailing `/` of the prefix or of the
    // replacement is ignored; an empty replacement is `/`).
    ("/foo", "/xyz", "/foo/bar", "/xyz/bar"),
    ("/foo", "/xyz/", "/foo/bar", "/xyz/bar"),
    ("/foo/", "/xyz", "/foo/bar", "/xyz/bar"),
    ("/foo/", "/xyz/", "/foo/bar", "/xyz/bar"),
    ("/foo", "/xyz", "/foo", "/xyz"),
    ("/foo", "/xyz", "/foo/", "/xyz/"),
    ("/foo", "", "/foo/bar", "/bar"),
    ("/foo", "", "/foo/", "/"),
    ("/foo", "", "/foo", "/"),
    ("/foo", "/", "/foo/", "/"),
    ("/foo", "/", "/foo", "/"),
    ("/foo", "/", "/foo/baz", "/baz"),
    // Root prefix.
    ("/", "/bar", "/baz", "/bar/baz"),
    ("/", "/bar", "/baz/", "/bar/baz/"),
    ("/", "/bar", "/", "/bar"),
    ("/", "/", "/baz", "/baz"),
    ("/", "/", "/", "/"),
    // Conformance: HTTPRouteRewritePath and HTTPRouteRedirectPath.
    ("/prefix/one", "/one", "/prefix/one/two", "/one/two"),
    ("/strip-prefix", "/", "/strip-prefix/three", "/three"),
    ("/strip-prefix", "/", "/strip-prefix", "/"),
    (
        "/prefix/rewrite-path-and-modify-headers",
        "/prefix",
        "/prefix/rewrite-path-and-modify-headers/one",
        "/prefix/one",
    ),
    (
        "/original-prefix",
        "/replacement-prefix",
        "/original-prefix/lemon",
        "/replacement-prefix/lemon",
    ),
    (
        "/path-and-host",
        "/replacement-prefix",
        "/path-and-host",
        "/replacement-prefix",
    ),
    // Deeper prefixes, dots and encoded bytes are plain path elements.
    ("/a/b", "/c", "/a/b/c/d", "/c/c/d"),
    ("/v1", "/api/v1", "/v1/x%2Fy/.z", "/api/v1/x%2Fy/.z"),
];

#[test]
fn prefix_rewrites() {
    for (pre, rep, path, want) in PREFIX_CASES {
        let p = PathRewrite::Prefix((*rep).into());
        let got = rewrite_path(&p, &prefix(pre), path);
        assert_eq!(got.as_deref(), Some(*want), "{pre} → {rep:?} on {path}");
    }
}

#[test]
fn full_rewrites_and_unchanged_paths() {
    let full = PathRewrite::Full("/one".into());
    assert_eq!(
        rewrite_path(&full, &prefix("/full/one"), "/full/one/two").as_deref(),
        Some("/one")
    );
    assert_eq!(
        rewrite_path(&full, &exact("/x"), "/x").as_deref(),
        Some("/one")
    );
    let p = PathRewrite::Prefix("/new".into());
    // Only a PathPrefix match has a prefix to replace.
    assert_eq!(rewrite_path(&p, &exact("/foo"), "/foo"), None);
    // Paths the prefix does not match element-wise are left alone.
    assert_eq!(rewrite_path(&p, &prefix("/foo"), "/foobar"), None);
    assert_eq!(rewrite_path(&p, &prefix("/foo"), "/bar"), None);
    assert_eq!(rewrite_path(&p, &prefix("/"), "*"), None);
    assert_eq!(rewrite_path(&p, &prefix("/"), ""), None);
}

fn redirect_to(scheme: Option<Scheme>, port: Option<u16>) -> Redirect {
    Redirect {
        scheme,
        hostname: Some("example.org".into()),
        path: None,
        port,
        status: 302,
    }
}

fn request<'a>(scheme: &'a str, port: Option<u16>, path: &'a str) -> RequestParts<'a> {
    RequestParts {
        scheme,
        host: "gateway.local",
        port,
        path,
        query: None,
    }
}

#[test]
fn redirect_ports_follow_conformance() {
    use Scheme::{Http, Https};
    /// Listener scheme and port, filter scheme and port, location.
    type Case = (
        &'static str,
        Option<u16>,
        Option<Scheme>,
        Option<u16>,
        &'static str,
    );
    let cases: &[Case] = &[
        // Listener on port 80.
        ("http", Some(80), None, None, "http://example.org/p"),
        ("http", Some(80), None, Some(80), "http://example.org/p"),
        (
            "http",
            Some(80),
            None,
            Some(8080),
            "http://example.org:8080/p",
        ),
        ("http", Some(80), Some(Https), None, "https://example.org/p"),
        (
            "http",
            Some(80),
            Some(Https),
            Some(443),
            "https://example.org/p",
        ),
        (
            "http",
            Some(80),
            Some(Https),
            Some(8443),
            "https://example.org:8443/p",
        ),
        // Listener on port 8080.
        ("http", Some(8080), None, None, "http://example.org:8080/p"),
        ("http", Some(8080), None, Some(80), "http://example.org/p"),
        (
            "http",
            Some(8080),
            Some(Https),
            None,
            "https://example.org/p",
        ),
        // A scheme set by the filter means its well-known port, even when
        // it is the request's scheme.
        ("http", Some(8080), Some(Http), None, "http://example.org/p"),
        // TLS listener on 443.
        ("https", Some(443), None, None, "https://example.org/p"),
        ("https", Some(443), None, Some(443), "https://example.org/p"),
        (
            "https",
            Some(443),
            None,
            Some(8443),
            "https://example.org:8443/p",
        ),
        ("https", Some(443), Some(Http), None, "http://example.org/p"),
        (
            "https",
            Some(443),
            Some(Http),
            Some(80),
            "http://example.org/p",
        ),
        (
            "https",
            Some(443),
            Some(Http),
            Some(8080),
            "http://example.org:8080/p",
        ),
        // Unknown listener port.
        ("http", None, None, None, "http://example.org/p"),
    ];
    for (req_scheme, req_port, scheme, port, want) in cases {
        let r = redirect_to(*scheme, *port);
        let (status, location) = redirect(&r, &request(req_scheme, *req_port, "/p"), &prefix("/"));
        assert_eq!(status, 302);
        assert_eq!(
            location, *want,
            "{req_scheme}:{req_port:?} {scheme:?} {port:?}"
        );
    }
}

#[test]
fn redirect_hosts_paths_queries_and_statuses() {
    let bare = Redirect {
        scheme: None,
        hostname: None,
        path: None,
        port: None,
        status: 302,
    };
    let req = RequestParts {
        scheme: "http",
        host: "orders.mesh",
        port: Some(8080),
        path: "/original-prefix/lemon",
        query: Some("a=1&b=%20"),
    };
    let m = prefix("/original-prefix");
    assert_eq!(
        redirect(&bare, &req, &m),
        (
            302,
            "http://orders.mesh:8080/original-prefix/lemon?a=1&b=%20".to_owned()
        )
    );
    let with_path = |path: PathRewrite, status: u16| Redirect {
        path: Some(path),
        status,
        ..bare.clone()
    };
    let r = with_path(PathRewrite::Prefix("/replacement-prefix".into()), 302);
    assert_eq!(
        redirect(&r, &req, &m).1,
        "http://orders.mesh:8080/replacement-prefix/lemon?a=1&b=%20"
    );
    let r = with_path(PathRewrite::Full("/full-path-replacement".into()), 301);
    assert_eq!(
        redirect(&r, &RequestParts { query: None, ..req }, &m),
        (
            301,
            "http://orders.mesh:8080/full-path-replacement".to_owned()
        )
    );
    // A prefix replacement with an exact match keeps the path.
    let r = with_path(PathRewrite::Prefix("/x".into()), 308);
    assert_eq!(
        redirect(
            &r,
            &RequestParts {
                query: Some(""),
                ..req
            },
            &exact("/original-prefix/lemon")
        ),
        (
            308,
            "http://orders.mesh:8080/original-prefix/lemon?".to_owned()
        )
    );
    // IPv6 hosts arrive bracketed and stay so; the filter's host and port.
    let v6 = RequestParts {
        host: "[::1]",
        port: Some(65535),
        ..req
    };
    assert_eq!(
        redirect(&bare, &RequestParts { query: None, ..v6 }, &m).1,
        "http://[::1]:65535/original-prefix/lemon"
    );
    let r = Redirect {
        hostname: Some("example.org".into()),
        port: Some(1),
        ..bare
    };
    assert_eq!(
        redirect(&r, &v6, &m).1,
        "http://example.org:1/original-prefix/lemon?a=1&b=%20"
    );
}

fn mirror(numerator: u32, denominator: u32) -> Mirror {
    Mirror {
        service: Name::parse("shadow").expect("name"),
        port: None,
        numerator,
        denominator,
    }
}

/// How many of `n` evenly spread u32 values (the midpoints of `n` equal
/// cells) sample.
fn sampled(m: &Mirror, n: u64) -> u64 {
    (0..n)
        .filter(|i| mirror_sampled(m, ((2 * i + 1) * (1u64 << 31) / n) as u32))
        .count() as u64
}

#[test]
fn mirror_sampling() {
    assert_eq!(sampled(&mirror(0, 100), 10_000), 0);
    assert_eq!(sampled(&mirror(100, 100), 10_000), 10_000);
    assert_eq!(sampled(&mirror(1, 4), 10_000), 2_500);
    assert_eq!(sampled(&mirror(37, 100), 10_000), 3_700);
    assert!(!mirror_sampled(&mirror(1, 0), 0), "invalid denominator");
    assert!(mirror_sampled(&mirror(5, 3), u32::MAX));
    // Large denominators are not biased: half of i32::MAX samples half.
    let d = i32::MAX as u32;
    assert_eq!(sampled(&mirror(d / 2, d), 1 << 16), 1 << 15);
    assert!(mirror_sampled(&mirror(1, d), 0));
    assert!(!mirror_sampled(&mirror(1, d), 4));
    // With random input: about the right share.
    let m = mirror(1, 10);
    let hits = (0..100_000)
        .filter(|_| mirror_sampled(&m, fastrand::u32(..)))
        .count();
    assert!((9_000..11_000).contains(&hits), "{hits}");
}

proptest! {
    #[test]
    fn prefix_rewrite_replaces_whole_elements(
        pre in prop::collection::vec("[a-z0-9.%-]{1,6}", 0..4),
        rest in prop::collection::vec("[a-z0-9.%-]{0,6}", 0..4),
        rep in prop::collection::vec("[a-z0-9]{1,6}", 0..3),
        slash in any::<bool>(),
    ) {
        let pre_path = format!("/{}", pre.join("/"));
        let rep_path = format!("/{}", rep.join("/"));
        let mut path = pre_path.trim_end_matches('/').to_owned();
        for r in &rest {
            path.push('/');
            path.push_str(r);
        }
        if slash || path.is_empty() {
            path.push('/');
        }
        let got = rewrite_path(&PathRewrite::Prefix(rep_path.clone()), &prefix(&pre_path), &path)
            .expect("a prefix path is rewritten");
        prop_assert!(got.starts_with('/'), "{}", got);
        // The rewritten path is the replacement followed by what followed
        // the prefix.
        let after = if pre.is_empty() {
            if path == "/" { "" } else { path.as_str() }
        } else {
            &path[pre_path.len()..]
        };
        let want = match (rep.is_empty(), after.is_empty()) {
            (true, true) => "/".to_owned(),
            (true, false) => after.to_owned(),
            (false, _) => format!("{rep_path}{after}"),
        };
        prop_assert_eq!(got, want);
    }

    #[test]
    fn rewrites_and_redirects_never_panic(
        path in ".{0,20}", pre in ".{0,8}", rep in ".{0,8}", query in proptest::option::of(".{0,8}"),
        port in proptest::option::of(any::<u16>()),
    ) {
        let m = prefix(&pre);
        let _ = rewrite_path(&PathRewrite::Prefix(rep.clone()), &m, &path);
        let r = Redirect { scheme: None, hostname: None, path: Some(PathRewrite::Prefix(rep)), port, status: 302 };
        let parts = RequestParts { scheme: "http", host: "h", port, path: &path, query: query.as_deref() };
        let (_, location) = redirect(&r, &parts, &m);
        prop_assert!(location.starts_with("http://h"));
    }

}
