//! `mesh-controller`: watches etcd, compiles route tables, pushes them to
//! routers. See [`mesh_controller::app`].

use anyhow::Context;
use clap::Parser;
use std::net::SocketAddr;

/// Command line of `mesh-controller`; every flag has an environment fallback.
#[derive(Debug, Parser)]
#[command(name = "mesh-controller", version, about = "mesh-router controller")]
struct Args {
    /// etcd endpoints, comma-separated.
    #[arg(
        long,
        env = "MESH_ETCD",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:2379"
    )]
    etcd: Vec<String>,
    /// Key prefix of this mesh in etcd.
    #[arg(long, env = "MESH_PREFIX", default_value = "/mesh")]
    prefix: String,
    /// Where routers subscribe; also /metrics, /live, /ready.
    #[arg(long, env = "MESH_CONTROLLER_LISTEN", default_value = "127.0.0.1:7300")]
    listen: SocketAddr,
    /// This controller's id in status keys; default `<hostname>:<port>`.
    #[arg(long, env = "MESH_CONTROLLER_ID")]
    id: Option<String>,
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
    let mut settings = mesh_controller::app::Settings::new(args.etcd, args.prefix, args.listen);
    settings.id = args.id;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot watch SIGTERM")?;
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: stopping"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
        }
    };
    let handle = mesh_controller::app::run(settings, shutdown)
        .await
        .context("mesh-controller cannot start")?;
    handle.wait().await.context("mesh-controller failed")?;
    Ok(())
}
