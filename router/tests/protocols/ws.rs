//! A hand-rolled WebSocket (RFC 6455) echo backend and client pieces: the
//! opening handshake (`Sec-WebSocket-Accept` is base64 of SHA-1 of the key
//! and the RFC's GUID) and single-frame messages.

use anyhow::{bail, Context};
use base64::Engine as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` answer to `key`.
pub fn accept_key(key: &str) -> String {
    let mut input = key.trim().as_bytes().to_vec();
    input.extend_from_slice(GUID.as_bytes());
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &input);
    base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
}

/// Reads an HTTP head (up to the blank line) byte by byte, so that nothing
/// after it is consumed.
pub async fn read_head<S: AsyncRead + Unpin>(s: &mut S) -> anyhow::Result<String> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let b = s.read_u8().await.context("reading an HTTP head")?;
        head.push(b);
        if head.len() > 16 * 1024 {
            bail!("HTTP head too long");
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// The value of header `name` in `head` (case-insensitive name).
pub fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Writes one final frame of `opcode` with `payload`, masked with `mask`
/// (clients must mask, servers must not).
pub async fn write_frame<S: AsyncWrite + Unpin>(
    s: &mut S,
    opcode: u8,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) -> anyhow::Result<()> {
    let mut out = vec![0x80 | opcode];
    let masked = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(masked | n as u8),
        n if n <= 0xffff => {
            out.push(masked | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(masked | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(m) => {
            out.extend_from_slice(&m);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ m[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    s.write_all(&out).await?;
    s.flush().await?;
    Ok(())
}

/// Reads one frame: (final, opcode, unmasked payload).
pub async fn read_frame<S: AsyncRead + Unpin>(s: &mut S) -> anyhow::Result<(bool, u8, Vec<u8>)> {
    let b0 = s.read_u8().await?;
    let b1 = s.read_u8().await?;
    let len = match b1 & 0x7f {
        126 => u64::from(s.read_u16().await?),
        127 => s.read_u64().await?,
        n => u64::from(n),
    };
    if len > 1 << 20 {
        bail!("frame too long");
    }
    let mask = if b1 & 0x80 != 0 {
        let mut m = [0u8; 4];
        s.read_exact(&mut m).await?;
        Some(m)
    } else {
        None
    };
    let mut payload = vec![0u8; len as usize];
    s.read_exact(&mut payload).await?;
    if let Some(m) = mask {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= m[i % 4];
        }
    }
    Ok((b0 & 0x80 != 0, b0 & 0x0f, payload))
}

/// A WebSocket echo backend: answers the upgrade with 101 and echoes every
/// data frame until a close frame. Keeps the request heads it saw.
pub struct EchoBackend {
    pub addr: SocketAddr,
    pub heads: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl EchoBackend {
    pub async fn start() -> anyhow::Result<EchoBackend> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = heads.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let _ = echo(stream, seen).await;
                });
            }
        });
        Ok(EchoBackend { addr, heads, task })
    }

    pub fn entry(&self, name: &str) -> mesh_config::table::EndpointEntry {
        crate::common::endpoint(name, self.addr)
    }
}

impl Drop for EchoBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn echo(mut s: TcpStream, seen: Arc<Mutex<Vec<String>>>) -> anyhow::Result<()> {
    let head = read_head(&mut s).await?;
    if let Ok(mut heads) = seen.lock() {
        heads.push(head.clone());
    }
    let upgrade = header(&head, "upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let Some(key) = header(&head, "sec-websocket-key").filter(|_| upgrade) else {
        s.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await?;
        return Ok(());
    };
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: {}\r\n\r\n",
        accept_key(key)
    );
    s.write_all(answer.as_bytes()).await?;
    loop {
        let (_, opcode, payload) = read_frame(&mut s).await?;
        if opcode == 0x8 {
            write_frame(&mut s, 0x8, &payload, None).await?;
            return Ok(());
        }
        write_frame(&mut s, opcode, &payload, None).await?;
    }
}
