//! `mesh-router`: the data plane. Serves the route table pushed by
//! controllers. See [`mesh_router::app`].

use anyhow::Context;
use clap::Parser;
use mesh_router::app::StopMode;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// mimalloc instead of glibc malloc: pingora allocates ~90 times per proxied
/// request (header maps, boxed futures, buffers), and glibc spent about a
/// fifth of the router's instructions on it (see router/PERF.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Command line of `mesh-router`; every flag has an environment fallback.
#[derive(Debug, Parser)]
#[command(name = "mesh-router", version, about = "mesh-router data plane")]
struct Args {
    /// Controller URLs, comma-separated.
    #[arg(
        long,
        env = "MESH_CONTROLLERS",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:7300"
    )]
    controllers: Vec<String>,
    /// The plain HTTP listener.
    #[arg(long, env = "MESH_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The TLS listener (off by default); needs --tls-cert and --tls-key.
    #[arg(long, env = "MESH_TLS_LISTEN", requires_all = ["tls_cert", "tls_key"])]
    tls_listen: Option<SocketAddr>,
    /// The TLS listener's certificate chain (PEM).
    #[arg(long, env = "MESH_TLS_CERT", requires = "tls_listen")]
    tls_cert: Option<PathBuf>,
    /// The TLS listener's private key (PEM).
    #[arg(long, env = "MESH_TLS_KEY", requires = "tls_listen")]
    tls_key: Option<PathBuf>,
    /// The admin listener: /metrics, /live, /ready, /table.
    #[arg(long, env = "MESH_ADMIN", default_value = "127.0.0.1:9901")]
    admin: SocketAddr,
    /// Where the last good table is kept.
    #[arg(long, env = "MESH_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// This router's id; default `<hostname>:<listen port>`.
    #[arg(long, env = "MESH_ROUTER_ID")]
    id: Option<String>,
    /// On SIGTERM: the listeners close at once and requests in flight get
    /// this long to finish (pingora waits it out in full, whole seconds).
    /// SIGINT stops at once.
    #[arg(long, env = "MESH_GRACE_PERIOD", default_value = "5s", value_parser = duration)]
    grace_period: Duration,
    /// Proxy worker threads.
    #[arg(long, env = "MESH_THREADS", default_value_t = 2)]
    threads: usize,
    /// The access log: one JSON line per request, appended to this file
    /// (`-`: standard output). Off by default.
    #[arg(long, env = "MESH_ACCESS_LOG", value_parser = access_log_target)]
    access_log: Option<mesh_router::access_log::Target>,
}

fn access_log_target(s: &str) -> Result<mesh_router::access_log::Target, String> {
    mesh_router::access_log::Target::parse(s).map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let settings = mesh_router::settings::Settings {
        listen: args.listen,
        tls_listen: tls_settings(&args)?,
        admin: args.admin,
        controllers: args.controllers,
        state_dir: args.state_dir,
        id: args.id,
        threads: args.threads,
        // One thread has nothing to steal from: pingora's current-thread
        // runtime serves it with less scheduling work than a one-worker
        // multi-thread runtime (this process runs a single router).
        work_stealing: args.threads > 1,
        grace_period: args.grace_period,
        access_log: args.access_log,
        ..mesh_router::settings::Settings::new()
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot watch SIGTERM")?;
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => {
                tracing::info!("SIGTERM: draining");
                StopMode::Graceful
            }
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("SIGINT: stopping now");
                StopMode::Fast
            }
        }
    };
    let handle = mesh_router::app::run(settings, None, shutdown)
        .await
        .context("mesh-router cannot start")?;
    handle.wait().await.context("mesh-router failed")?;
    Ok(())
}

/// A Gateway API duration (`1s`, `500ms`); pingora counts whole seconds.
fn duration(s: &str) -> Result<Duration, String> {
    mesh_config::duration::parse_duration(s).map_err(|e| e.to_string())
}

/// The TLS listener of `--tls-listen`, `--tls-cert` and `--tls-key`.
fn tls_settings(args: &Args) -> anyhow::Result<Option<mesh_router::settings::TlsSettings>> {
    match (args.tls_listen, &args.tls_cert, &args.tls_key) {
        (None, _, _) => Ok(None),
        (Some(addr), Some(cert), Some(key)) => Ok(Some(mesh_router::settings::TlsSettings {
            addr,
            cert_path: cert.clone(),
            key_path: key.clone(),
        })),
        (Some(_), _, _) => anyhow::bail!("--tls-listen needs --tls-cert and --tls-key"),
    }
}
