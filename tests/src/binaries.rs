//! The project's binaries for end-to-end tests.
//!
//! Tests run the binaries cargo builds into the same target directory as
//! the test itself (`target/<profile>/`). Cargo only builds a package's
//! binaries for that package's own tests, so on first use this module runs
//! `cargo build --bins` for the controller and router packages with the
//! test's profile and target directory: a no-op when they are fresh, and it
//! means a test never runs a stale binary. `MESH_TEST_BIN_DIR` names a
//! directory holding prebuilt binaries instead (nothing is built then).

use anyhow::{bail, Context as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Environment variable naming a directory of prebuilt binaries.
pub const BIN_DIR_VAR: &str = "MESH_TEST_BIN_DIR";

/// The packages whose binaries the tests run.
const PACKAGES: [&str; 2] = ["mesh-controller", "mesh-router"];

/// A binary of this project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    /// `mesh-controller`.
    Controller,
    /// `mesh-router`.
    Router,
    /// `meshctl`.
    Meshctl,
}

impl Binary {
    /// The file name.
    pub fn name(self) -> &'static str {
        match self {
            Binary::Controller => "mesh-controller",
            Binary::Router => "mesh-router",
            Binary::Meshctl => "meshctl",
        }
    }
}

/// The path of `binary`, built first (once per test process) unless
/// `MESH_TEST_BIN_DIR` is set.
pub fn path(binary: Binary) -> anyhow::Result<PathBuf> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = DIR
        .get_or_init(|| bin_dir().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let path = dir.join(binary.name());
    if !path.is_file() {
        bail!("{} does not exist", path.display());
    }
    Ok(path)
}

fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os(BIN_DIR_VAR) {
        return Ok(PathBuf::from(dir));
    }
    // target/<profile>/deps/<test binary>
    let exe = std::env::current_exe().context("cannot tell where this test runs from")?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("the test binary is not in target/<profile>/deps")?
        .to_path_buf();
    let target_dir = profile_dir
        .parent()
        .context("the test binary is not in target/<profile>/deps")?;
    build(target_dir, &profile_dir)?;
    Ok(profile_dir)
}

fn build(target_dir: &Path, profile_dir: &Path) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.arg("build").arg("--bins").arg("--quiet");
    for package in PACKAGES {
        cmd.arg("-p").arg(package);
    }
    cmd.arg("--target-dir").arg(target_dir);
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(profile) => {
            cmd.arg("--profile").arg(profile);
        }
        None => bail!("cannot tell the build profile of {}", profile_dir.display()),
    }
    // Cargo gives a test process the variables it gives a crate being built
    // (CARGO_PKG_NAME=mesh-tests, CARGO_MANIFEST_DIR, ...). Build scripts
    // that watch them (ring's does) would see other values than in the
    // build that made the binaries and rebuild half the tree: pass on the
    // environment of the outer cargo instead.
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(is_per_crate_var) {
            cmd.env_remove(&key);
        }
    }
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {cargo:?} to build the binaries ({cmd:?})"))?;
    if !status.success() {
        bail!("building the binaries failed ({status}): {cmd:?}");
    }
    Ok(())
}

/// Whether `key` is one of the variables cargo sets for one crate (and so
/// for its test processes), not one of the user's.
fn is_per_crate_var(key: &str) -> bool {
    key.starts_with("CARGO_PKG_")
        || key.starts_with("CARGO_MANIFEST_")
        || key.starts_with("CARGO_BIN_")
        || matches!(
            key,
            "CARGO_CRATE_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_TARGET_TMPDIR"
                | "CARGO_RUSTC_CURRENT_DIR"
                | "OUT_DIR"
        )
}

#[cfg(test)]
mod tests {
    use super::is_per_crate_var;

    #[test]
    fn only_per_crate_variables_are_dropped() {
        for key in [
            "CARGO_PKG_NAME",
            "CARGO_MANIFEST_DIR",
            "CARGO_CRATE_NAME",
            "OUT_DIR",
        ] {
            assert!(is_per_crate_var(key), "{key}");
        }
        for key in [
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO_PROFILE_RELEASE_DEBUG",
            "PATH",
        ] {
            assert!(!is_per_crate_var(key), "{key}");
        }
    }
}
