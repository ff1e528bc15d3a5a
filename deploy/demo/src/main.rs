//! `mesh-demo`: a demo service instance for the local cluster; answers every
//! request with its service, instance, version and the request's details.
//! See [`mesh_demo`]. SIGTERM or SIGINT stops it.

use anyhow::Context as _;
use clap::Parser;
use std::net::SocketAddr;

/// Command line of `mesh-demo`; every flag has an environment fallback.
#[derive(Debug, Parser)]
#[command(name = "mesh-demo", about = "mesh-router demo service")]
struct Args {
    /// Where to listen.
    #[arg(long, env = "MESH_DEMO_LISTEN", default_value = "127.0.0.1:9001")]
    listen: SocketAddr,
    /// The mesh Service this instance belongs to.
    #[arg(long, env = "MESH_DEMO_SERVICE", default_value = "demo-v1")]
    service: String,
    /// This instance's name.
    #[arg(long, env = "MESH_DEMO_INSTANCE", default_value = "demo-1")]
    instance: String,
    /// This instance's version label.
    #[arg(long, env = "MESH_DEMO_VERSION", default_value = "v1")]
    version: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot watch SIGTERM")?;
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: stopping"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
        }
    };
    let settings = mesh_demo::Settings {
        listen: args.listen,
        service: args.service,
        instance: args.instance,
        version: args.version,
    };
    let label = format!(
        "{} instance {} version {}",
        settings.service, settings.instance, settings.version
    );
    let running = mesh_demo::run(settings, shutdown)
        .await
        .context("mesh-demo cannot start")?;
    tracing::info!("mesh-demo {label} listening on {}", running.addr());
    running.wait().await
}
