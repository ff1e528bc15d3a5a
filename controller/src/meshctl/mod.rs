//! `meshctl`: the operator's command-line tool. Reads and writes resources in
//! etcd, validates files offline, and registers an endpoint on a lease.
//!
//! Exit codes: 0 success; 1 invalid input (a bad file, a bad argument, a
//! resource that does not exist); 2 etcd unreachable or failing.
//!
//! # Layout
//! - `mod.rs`: the command line (clap), dispatch, errors and exit codes.
//! - [`apply`]: `apply` and `validate` (files → validated documents → one
//!   etcd transaction).
//! - [`get`]: `get` and `delete`, with table, JSON and YAML output.
//! - [`register`]: `register`, an endpoint kept alive on a lease.
//! - [`status`]: `status`, routers and the revision each serves, rejected
//!   resources and why.

pub mod apply;
pub mod get;
pub mod register;
pub mod status;

use crate::store::{Store, StoreError, StoreSettings};
use clap::{Parser, Subcommand, ValueEnum};
use mesh_config::keys::{KeyError, Keys};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use thiserror::Error;

/// Command-line arguments of `meshctl`.
#[derive(Debug, Parser)]
#[command(
    name = "meshctl",
    version,
    about = "Manage mesh-router resources in etcd"
)]
pub struct Cli {
    /// etcd endpoints, comma-separated.
    #[arg(
        long,
        env = "MESH_ETCD",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:2379",
        global = true
    )]
    pub etcd: Vec<String>,
    /// Key prefix of this mesh in etcd.
    #[arg(long, env = "MESH_PREFIX", default_value = "/mesh", global = true)]
    pub prefix: String,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate every document of FILE, then write all of them in one etcd
    /// transaction (nothing is written if any document is invalid).
    Apply {
        /// A YAML or JSON file with one or more documents; `-` reads stdin.
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
    },
    /// Validate every document of FILE without touching etcd.
    Validate {
        /// A YAML or JSON file with one or more documents; `-` reads stdin.
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
    },
    /// Show resources of one kind (service, endpoint, route), or one by name.
    Get {
        /// service(s) | svc, endpoint(s) | ep, route(s) | rt
        kind: String,
        /// For endpoints: `SERVICE/NAME`, or NAME when it is unique.
        name: Option<String>,
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Delete one resource.
    Delete {
        /// service | endpoint | route
        kind: String,
        /// For endpoints: `SERVICE/NAME`, or NAME when it is unique.
        name: String,
    },
    /// Register an endpoint on an etcd lease and keep it alive until
    /// SIGTERM/SIGINT, which removes it at once. If this process dies, the
    /// endpoint disappears when the lease expires (after --ttl).
    Register(register::RegisterArgs),
    /// Show every router with the revision it serves against the published
    /// one, and every resource rejected (or accepted with a warning) and why.
    Status,
}

/// Output formats of `get`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
    Yaml,
}

/// Everything that can make `meshctl` fail.
#[derive(Debug, Error)]
pub enum MeshctlError {
    /// Bad input: the message says what and where.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error(transparent)]
    Prefix(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl MeshctlError {
    /// 1 for bad input, 2 when etcd could not be used.
    pub fn exit_code(&self) -> u8 {
        match self {
            MeshctlError::Store(e) if e.is_input_error() => 1,
            MeshctlError::Store(_) => 2,
            _ => 1,
        }
    }
}

/// Parses the process's arguments, runs the command, prints errors on one
/// line each, and gives the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("meshctl: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            for line in e.to_string().lines() {
                eprintln!("meshctl: {line}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// Runs one command.
pub async fn run(cli: Cli) -> Result<(), MeshctlError> {
    let keys = Keys::new(&cli.prefix)?;
    let ctx = Context {
        etcd: cli.etcd,
        keys,
    };
    match cli.command {
        Command::Validate { file } => apply::validate_file(&file),
        Command::Apply { file } => apply::apply_file(&ctx, &file).await,
        Command::Get { kind, name, output } => {
            get::get(&ctx, parse_kind(&kind)?, name.as_deref(), output).await
        }
        Command::Delete { kind, name } => get::delete(&ctx, parse_kind(&kind)?, &name).await,
        Command::Register(args) => register::register(&ctx, args).await,
        Command::Status => status::status(&ctx).await,
    }
}

/// What every command that talks to etcd needs.
pub struct Context {
    pub etcd: Vec<String>,
    pub keys: Keys,
}

impl Context {
    /// Connects to etcd, failing fast (exit 2) when it is unreachable.
    pub async fn store(&self) -> Result<Store, MeshctlError> {
        let settings = StoreSettings {
            endpoints: self.etcd.clone(),
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(10),
        };
        Ok(Store::connect(settings).await?)
    }
}

fn parse_kind(s: &str) -> Result<mesh_config::Kind, MeshctlError> {
    mesh_config::Kind::from_cli(s).ok_or_else(|| {
        MeshctlError::Invalid(format!(
            "unknown kind `{s}`: expected service, endpoint or route"
        ))
    })
}
