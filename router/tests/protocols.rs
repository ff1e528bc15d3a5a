//! Protocols through the router against real backends: HTTP/2 with prior
//! knowledge (h2c) downstream and upstream, gRPC unary and bidirectional
//! streaming with trailers, the TLS listener with ALPN `h2` and
//! `http/1.1`, and a WebSocket upgrade with an echo.

mod common;
#[path = "protocols/support.rs"]
mod support;
#[path = "protocols/ws.rs"]
mod ws;

use anyhow::Context;
use bytes::{Bytes, BytesMut};
use common::{Backend, Http, Router, TableBuilder};
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::{HeaderMap, Request, Response};
use mesh_router::settings::{Settings, TlsSettings};
use pingora::tls::{CertificateDer, ClientConfig, RootCertStore, ServerName, TlsConnector};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use support::{full, step, AnyBody, ChannelBody, H2Backend};
use tokio::net::TcpStream;

/// An HTTP/2 backend answering `<name> <version>` with `x-backend`.
async fn h2_named(name: &'static str) -> anyhow::Result<H2Backend> {
    H2Backend::start(move |req: Request<Incoming>| async move {
        let body = format!("{name} {:?}", req.version());
        Response::builder()
            .header("x-backend", name)
            .body(full(body))
            .expect("response")
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_concurrent_streams_reach_http1_and_http2_services() -> anyhow::Result<()> {
    common::init_logs();
    let plain = Backend::start("plain").await;
    let h2 = h2_named("h2svc").await?;
    let table = TableBuilder::new()
        .service("plain", &[&plain])
        .service_entries(
            "h2svc",
            json!({"protocol": "http2"}),
            vec![h2.entry("h2svc-0")],
        )
        .build(1);
    let router = Router::start(table).await;
    let addr = router.handle().listen_addr();

    let client = support::h2c(addr).await?;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let mut c = client.clone();
        let host = if i % 2 == 0 { "plain" } else { "h2svc" };
        tasks.push(tokio::spawn(async move {
            let req = Request::get(format!("http://{host}/item/{i}")).body(full(""))?;
            support::send(&mut c, req).await
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let a = t.await??;
        assert_eq!(a.status, 200, "stream {i}: {a:?}");
        let body = String::from_utf8_lossy(&a.body);
        if i % 2 == 0 {
            assert_eq!(body, "plain", "stream {i}");
        } else {
            // The router spoke HTTP/2 to the http2 service.
            assert_eq!(body, "h2svc HTTP/2.0", "stream {i}");
        }
    }
    assert_eq!(plain.hits(), 8);
    let seen = plain.last().context("plain saw a request")?;
    assert_eq!(
        seen.headers.get("x-forwarded-proto").map(|v| v.as_bytes()),
        Some(&b"http"[..])
    );

    // HTTP/1.1 keeps working on the same listener; a miss is still a 404.
    let http = Http::new();
    let a = http.get(&router.url("/h1"), "h2svc").await?;
    assert_eq!((a.status, a.body.as_str()), (200, "h2svc HTTP/2.0"));
    let mut c = client.clone();
    let a = support::send(&mut c, Request::get("http://nowhere/").body(full(""))?).await?;
    assert_eq!(
        (a.status, a.header("x-mesh-error")),
        (404, Some("no-route"))
    );
    router.stop().await
}

/// A gRPC echo backend: answers each message `m` with `echo:m` as soon as
/// it arrives, then trailers `grpc-status: 0`, `x-echo-count` and what it
/// saw of `te` and the HTTP version.
async fn grpc_echo() -> anyhow::Result<H2Backend> {
    H2Backend::start(|req: Request<Incoming>| async move {
        let te = req
            .headers()
            .get("te")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned();
        let version = format!("{:?}", req.version());
        let (tx, body) = ChannelBody::channel();
        tokio::spawn(async move {
            let mut incoming = req.into_body();
            let mut buf = BytesMut::new();
            let mut count = 0u32;
            while let Some(Ok(frame)) = incoming.frame().await {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                buf.extend_from_slice(&data);
                let Ok(messages) = support::grpc_messages(&mut buf) else {
                    break;
                };
                for m in messages {
                    count += 1;
                    let mut reply = b"echo:".to_vec();
                    reply.extend_from_slice(&m);
                    let _ = tx.send(Frame::data(support::grpc_frame(&reply))).await;
                }
            }
            let mut trailers = HeaderMap::new();
            trailers.insert("grpc-status", "0".parse().expect("value"));
            trailers.insert("grpc-message", "ok".parse().expect("value"));
            trailers.insert("x-echo-count", count.into());
            trailers.insert("x-te-seen", te.parse().expect("value"));
            trailers.insert("x-version-seen", version.parse().expect("value"));
            let _ = tx.send(Frame::trailers(trailers)).await;
        });
        Response::builder()
            .header("content-type", "application/grpc")
            .body(body)
            .expect("response")
    })
    .await
}

fn grpc_request(method: &str, body: AnyBody) -> anyhow::Result<Request<AnyBody>> {
    Ok(Request::post(format!("http://echo/test.Echo/{method}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(body)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_unary_and_bidi_streaming_keep_messages_and_trailers() -> anyhow::Result<()> {
    common::init_logs();
    let backend = grpc_echo().await?;
    let table = TableBuilder::new()
        .service_entries(
            "echo",
            json!({"protocol": "grpc"}),
            vec![backend.entry("echo-0")],
        )
        .build(1);
    let router = Router::start(table).await;
    let mut client = support::h2c(router.handle().listen_addr()).await?;

    // Unary.
    let req = grpc_request("Unary", full(support::grpc_frame(b"hello")))?;
    let a = support::send(&mut client, req).await?;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.header("content-type"), Some("application/grpc"));
    let mut body = BytesMut::from(&a.body[..]);
    let messages = support::grpc_messages(&mut body)?;
    assert_eq!(messages, vec![Bytes::from_static(b"echo:hello")]);
    assert!(body.is_empty());
    assert_eq!(a.trailer("grpc-status"), Some("0"), "{a:?}");
    assert_eq!(a.trailer("grpc-message"), Some("ok"));
    assert_eq!(a.trailer("x-echo-count"), Some("1"));
    assert_eq!(a.trailer("x-te-seen"), Some("trailers"));
    assert_eq!(a.trailer("x-version-seen"), Some("HTTP/2.0"));
    // gRPC requires `te: trailers`: the router sends it even when the
    // client left it out.
    let req = Request::post("http://echo/test.Echo/Unary")
        .header("content-type", "application/grpc")
        .body(full(support::grpc_frame(b"no te")))?;
    let a = support::send(&mut client, req).await?;
    assert_eq!(a.trailer("grpc-status"), Some("0"), "{a:?}");
    assert_eq!(a.trailer("x-te-seen"), Some("trailers"));

    // Bidirectional streaming: each reply arrives before the next message
    // is sent, so nothing is buffered whole on the way.
    let (tx, body) = ChannelBody::channel();
    step("ready", client.ready()).await??;
    let resp = step(
        "chat head",
        client.send_request(grpc_request("Chat", body)?),
    )
    .await??;
    assert_eq!(resp.status(), 200);
    let mut incoming = resp.into_body();
    let mut buf = BytesMut::new();
    let mut trailers = None;
    for word in ["one", "two", "three"] {
        tx.send(Frame::data(support::grpc_frame(word.as_bytes())))
            .await
            .context("request stream")?;
        let got = loop {
            let mut ready = support::grpc_messages(&mut buf)?;
            if !ready.is_empty() {
                assert_eq!(ready.len(), 1, "one reply per message");
                break ready.remove(0);
            }
            let frame = step("chat reply", incoming.frame())
                .await?
                .context("the response ended early")??;
            match frame.into_data() {
                Ok(d) => buf.extend_from_slice(&d),
                Err(f) => anyhow::bail!("trailers before the reply: {f:?}"),
            }
        };
        assert_eq!(got, Bytes::from(format!("echo:{word}")));
    }
    drop(tx);
    while let Some(frame) = step("chat end", incoming.frame()).await? {
        match frame?.into_data() {
            Ok(d) => buf.extend_from_slice(&d),
            Err(f) => trailers = f.into_trailers().ok(),
        }
    }
    assert!(buf.is_empty(), "no stray bytes: {buf:?}");
    let trailers = trailers.context("the chat has trailers")?;
    assert_eq!(
        trailers.get("grpc-status").map(|v| v.as_bytes()),
        Some(&b"0"[..])
    );
    assert_eq!(
        trailers.get("x-echo-count").map(|v| v.as_bytes()),
        Some(&b"3"[..])
    );
    router.stop().await
}

/// A TLS client connection to `addr` trusting `der`, offering `alpn`.
async fn tls_connect(
    addr: SocketAddr,
    der: &[u8],
    alpn: &[&[u8]],
) -> anyhow::Result<pingora::tls::ClientTlsStream<TcpStream>> {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(der.to_vec()))?;
    let mut config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost")?;
    let stream = step(
        "TLS handshake",
        TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await??;
    Ok(stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_listener_serves_h2_and_http1_by_alpn() -> anyhow::Result<()> {
    common::init_logs();
    let plain = Backend::start("plain").await;
    let table = TableBuilder::new()
        .service("plain", &[&plain])
        .route(
            "moved",
            json!({"hostnames": ["old.example"], "rules": [{"filters": [
                {"type": "RequestRedirect", "requestRedirect": {"hostname": "new.example"}}
            ]}]}),
        )
        .build(1);
    let dir = tempfile::tempdir()?;
    let (cert, key, der) = support::self_signed(dir.path(), "router")?;
    let mut settings = Settings::local();
    settings.tls_listen = Some(TlsSettings {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        cert_path: cert,
        key_path: key,
    });
    let router = Router::start_with(settings, Some(table)).await;
    let tls_addr = router.handle().tls_addr().context("a TLS listener")?;

    // HTTP/2 by ALPN.
    let stream = tls_connect(tls_addr, &der, &[b"h2", b"http/1.1"]).await?;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let mut h2 = support::h2_client(stream).await?;
    let a = support::send(
        &mut h2,
        Request::get("https://plain/over-h2").body(full(""))?,
    )
    .await?;
    assert_eq!((a.status, &a.body[..]), (200, &b"plain"[..]), "{a:?}");
    let seen = plain.last().context("the backend saw it")?;
    assert_eq!(seen.uri, "/over-h2");
    assert_eq!(
        seen.headers.get("x-forwarded-proto").map(|v| v.as_bytes()),
        Some(&b"https"[..])
    );
    // A redirect keeps the scheme the request came with.
    let a = support::send(
        &mut h2,
        Request::get("https://old.example/x").body(full(""))?,
    )
    .await?;
    assert_eq!(a.status, 302);
    assert_eq!(
        a.header("location"),
        Some(format!("https://new.example:{}/x", tls_addr.port()).as_str())
    );

    // HTTP/1.1 by ALPN.
    let stream = tls_connect(tls_addr, &der, &[b"http/1.1"]).await?;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let (mut h1, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    for path in ["/over-h1", "/again"] {
        let req = Request::get(path).header("host", "plain").body(full(""))?;
        let resp = step("h1 over TLS", h1.send_request(req)).await??;
        assert_eq!(resp.status(), 200);
        let body = step("body", resp.into_body().collect()).await??.to_bytes();
        assert_eq!(&body[..], b"plain");
        let seen = plain.last().context("the backend saw it")?;
        assert_eq!(seen.uri, path);
        assert_eq!(
            seen.headers.get("x-forwarded-proto").map(|v| v.as_bytes()),
            Some(&b"https"[..])
        );
    }
    // The plain listener is still there, and says http.
    let a = Http::new().get(&router.url("/plain"), "plain").await?;
    assert_eq!(a.status, 200);
    let seen = plain.last().context("the backend saw it")?;
    assert_eq!(
        seen.headers.get("x-forwarded-proto").map(|v| v.as_bytes()),
        Some(&b"http"[..])
    );
    router.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_listener_refuses_bad_files_with_path_and_reason() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (cert, key, _) = support::self_signed(dir.path(), "one")?;
    let (_, other_key, _) = support::self_signed(dir.path(), "two")?;
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a pem file\n")?;
    let missing = dir.path().join("missing.pem");
    let cases = [
        (missing.clone(), key.clone(), "missing.pem", "cannot read"),
        (cert.clone(), missing.clone(), "missing.pem", "cannot read"),
        (
            garbage.clone(),
            key.clone(),
            "garbage.pem",
            "no certificate",
        ),
        (
            cert.clone(),
            garbage.clone(),
            "garbage.pem",
            "no private key",
        ),
        (cert.clone(), other_key, "two.key", "does not go with"),
    ];
    for (cert_path, key_path, file, reason) in cases {
        let mut settings = Settings::local();
        settings.tls_listen = Some(TlsSettings {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            cert_path,
            key_path,
        });
        let (_tx, rx) = tokio::sync::oneshot::channel::<()>();
        let result = mesh_router::app::run(settings, None, async move {
            let _ = rx.await;
        })
        .await;
        let Err(e) = result else {
            anyhow::bail!("started with a bad {file}");
        };
        let message = e.to_string();
        assert!(
            message.contains(file) && message.contains(reason),
            "{file}: {message}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrade_echoes_frames() -> anyhow::Result<()> {
    common::init_logs();
    let backend = ws::EchoBackend::start().await?;
    let table = TableBuilder::new()
        .service_entries("chat", json!({}), vec![backend.entry("chat-0")])
        .build(1);
    let router = Router::start(table).await;
    let mut s = TcpStream::connect(router.handle().listen_addr()).await?;
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let upgrade = format!(
        "GET /socket HTTP/1.1\r\nhost: chat\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
         sec-websocket-key: {key}\r\nsec-websocket-version: 13\r\n\r\n"
    );
    tokio::io::AsyncWriteExt::write_all(&mut s, upgrade.as_bytes()).await?;
    let head = step("101", ws::read_head(&mut s)).await??;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // The RFC 6455 example key and answer.
    assert_eq!(
        ws::header(&head, "sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    assert_eq!(
        ws::header(&head, "upgrade")
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("websocket")
    );

    for text in ["hello", "through the router", &"x".repeat(70_000)] {
        ws::write_frame(&mut s, 0x1, text.as_bytes(), Some([1, 2, 3, 4])).await?;
        let (fin, opcode, payload) = step("echo", ws::read_frame(&mut s)).await??;
        assert!(fin);
        assert_eq!(opcode, 0x1);
        assert_eq!(payload, text.as_bytes());
    }
    ws::write_frame(&mut s, 0x8, &[0x03, 0xe8], Some([9, 9, 9, 9])).await?;
    let (_, opcode, _) = step("close", ws::read_frame(&mut s)).await??;
    assert_eq!(opcode, 0x8);

    let heads = backend.heads.lock().map(|h| h.clone()).unwrap_or_default();
    let head = heads.first().context("the backend saw the upgrade")?;
    assert_eq!(ws::header(head, "sec-websocket-key"), Some(key));
    assert_eq!(ws::header(head, "sec-websocket-version"), Some("13"));
    assert!(
        ws::header(head, "connection").is_some_and(|v| v.to_ascii_lowercase().contains("upgrade"))
    );
    router.stop().await
}
