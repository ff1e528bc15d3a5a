//! Backends of a test cluster: `mesh-demo` servers in the test's process.
//!
//! Each answers every request with JSON naming its service, instance and
//! version, and the headers `x-demo-instance` / `x-demo-version`, so a test
//! sees which backend a router chose.

use anyhow::Context as _;
use std::net::SocketAddr;
use tokio::sync::oneshot;

/// What a backend calls itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendSpec {
    /// The mesh Service it belongs to.
    pub service: String,
    /// Its instance name (also the Endpoint name the cluster can register).
    pub instance: String,
    /// Its version label.
    pub version: String,
}

impl BackendSpec {
    /// A backend of `service` named `instance` with version `version`.
    pub fn new(service: &str, instance: &str, version: &str) -> BackendSpec {
        BackendSpec {
            service: service.to_owned(),
            instance: instance.to_owned(),
            version: version.to_owned(),
        }
    }
}

/// A running demo backend; stops on drop.
#[derive(Debug)]
pub struct Backend {
    spec: BackendSpec,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl Backend {
    /// Starts a backend on a free port.
    pub async fn start(spec: BackendSpec) -> anyhow::Result<Backend> {
        let (stop, stopped) = oneshot::channel::<()>();
        let running = mesh_demo::run(
            mesh_demo::Settings {
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                service: spec.service.clone(),
                instance: spec.instance.clone(),
                version: spec.version.clone(),
            },
            async move {
                let _ = stopped.await;
            },
        )
        .await
        .with_context(|| format!("cannot start backend {}", spec.instance))?;
        Ok(Backend {
            addr: running.addr(),
            spec,
            stop: Some(stop),
        })
    }

    /// Who it is.
    pub fn spec(&self) -> &BackendSpec {
        &self.spec
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
