//! `meshctl register`: an instance announces itself. The Endpoint is written
//! on an etcd lease that this process keeps alive; SIGTERM or SIGINT revokes
//! the lease, so the endpoint disappears at once, and if the process dies the
//! lease expires after `--ttl`.

use super::{Context, MeshctlError};
use crate::store::Registration;
use clap::Args;
use mesh_config::duration::parse_duration;
use mesh_config::spec::{Document, EndpointDoc, EndpointSpec};
use std::collections::BTreeMap;
use std::time::Duration;

/// Arguments of `meshctl register`.
#[derive(Debug, Clone, Args)]
pub struct RegisterArgs {
    /// The Service this instance belongs to.
    #[arg(long)]
    pub service: String,
    /// The instance's IP address.
    #[arg(long)]
    pub address: String,
    /// The instance's port.
    #[arg(long, allow_negative_numbers = true)]
    pub port: i64,
    /// Load-balancing weight (0..=10000).
    #[arg(long, allow_negative_numbers = true)]
    pub weight: Option<i64>,
    /// Failure domain.
    #[arg(long)]
    pub zone: Option<String>,
    /// A label `KEY=VALUE`; repeat for more.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Endpoint name; default `<service>-<address>-<port>`.
    #[arg(long)]
    pub name: Option<String>,
    /// Lease time to live: how long the endpoint outlives a crash.
    #[arg(long, default_value = "10s")]
    pub ttl: String,
}

/// The shortest and longest lease TTLs accepted.
const TTL_MIN: Duration = Duration::from_secs(2);
const TTL_MAX: Duration = Duration::from_secs(3600);

impl RegisterArgs {
    /// The Endpoint document these arguments describe.
    pub fn document(&self) -> Result<Document, MeshctlError> {
        let mut labels = BTreeMap::new();
        for l in &self.labels {
            let (k, v) = l.split_once('=').ok_or_else(|| {
                MeshctlError::Invalid(format!("--label `{l}`: expected KEY=VALUE"))
            })?;
            labels.insert(k.to_owned(), v.to_owned());
        }
        let name = self.name.clone().unwrap_or_else(|| {
            let address: String = self
                .address
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect();
            format!(
                "{}-{}-{}",
                self.service,
                address.trim_matches('-'),
                self.port
            )
        });
        Ok(Document::Endpoint(EndpointDoc {
            name,
            spec: EndpointSpec {
                service: self.service.clone(),
                address: self.address.clone(),
                port: self.port,
                weight: self.weight,
                zone: self.zone.clone(),
                labels,
            },
        }))
    }

    /// The lease TTL, checked.
    pub fn ttl(&self) -> Result<Duration, MeshctlError> {
        let ttl =
            parse_duration(&self.ttl).map_err(|e| MeshctlError::Invalid(format!("--ttl: {e}")))?;
        if !(TTL_MIN..=TTL_MAX).contains(&ttl) {
            return Err(MeshctlError::Invalid(format!(
                "--ttl: must be between {}s and {}s",
                TTL_MIN.as_secs(),
                TTL_MAX.as_secs()
            )));
        }
        Ok(ttl)
    }
}

/// `meshctl register ...`: runs until SIGTERM or SIGINT.
pub async fn register(ctx: &Context, args: RegisterArgs) -> Result<(), MeshctlError> {
    let doc = args.document()?;
    let ttl = args.ttl()?;
    mesh_config::validate(&doc).map_err(|problems| {
        MeshctlError::Invalid(
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    let key = ctx.keys.document(&doc);
    let store = ctx.store().await?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| MeshctlError::Invalid(format!("cannot watch SIGTERM: {e}")))?;
    let registration = Registration::start(&store, key, doc.to_json(), ttl).await?;
    println!(
        "registered {} on lease {:x} (ttl {}s); SIGTERM or Ctrl-C removes it",
        doc.label(),
        registration.lease_id(),
        ttl.as_secs()
    );
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    registration.revoke().await?;
    println!("deregistered {}", doc.label());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Result<RegisterArgs, clap::Error> {
        use clap::Parser;
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            a: RegisterArgs,
        }
        let mut argv = vec![
            "t",
            "--service",
            "orders",
            "--address",
            "127.0.0.1",
            "--port",
            "9001",
        ];
        argv.extend_from_slice(extra);
        T::try_parse_from(argv).map(|t| t.a)
    }

    #[test]
    fn default_name_is_a_valid_label() {
        let a = args(&[]).expect("parses");
        let doc = a.document().expect("document");
        assert_eq!(doc.name(), "orders-127-0-0-1-9001");
        assert!(mesh_config::validate(&doc).is_ok());
        let a = RegisterArgs {
            address: "::1".into(),
            ..a
        };
        assert_eq!(a.document().expect("document").name(), "orders-1-9001");
    }

    #[test]
    fn labels_and_ttl() {
        let a = args(&[
            "--label",
            "version=v2",
            "--label",
            "tier=web",
            "--ttl",
            "30s",
        ])
        .expect("parses");
        let Ok(Document::Endpoint(e)) = a.document() else {
            panic!("endpoint")
        };
        assert_eq!(e.spec.labels.get("version").map(String::as_str), Some("v2"));
        assert_eq!(a.ttl().ok(), Some(Duration::from_secs(30)));
        assert!(args(&["--label", "novalue"])
            .expect("parses")
            .document()
            .is_err());
        assert!(args(&["--ttl", "1s"]).expect("parses").ttl().is_err());
        assert!(args(&["--ttl", "ten"]).expect("parses").ttl().is_err());
    }
}
