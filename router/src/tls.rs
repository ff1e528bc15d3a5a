//! The TLS listener's certificate and pingora's listener settings for it.
//!
//! pingora reads the certificate and key files itself when the server
//! starts, on its own thread, and panics on a file it cannot use. So
//! [`listener`] reads and checks both files first (readable, PEM, a
//! certificate, a private key, the key belongs to the certificate) and
//! answers a [`TlsError`] naming the file and the reason; pingora then gets
//! the checked key pair through a certificate resolver and never opens the
//! files again. ALPN offers `h2` then `http/1.1`.

use crate::settings::TlsSettings;
use pingora::listeners::tls::TlsSettings as ListenerTls;
use pingora::tls::sign::{CertifiedKey, SingleCertAndKey};
use pingora::tls::{CryptoProvider, ResolvesServerCert};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;

/// Why the TLS listener cannot start.
#[derive(Debug, Error)]
pub enum TlsError {
    #[error("TLS certificate {}: {reason}", path.display())]
    Cert { path: PathBuf, reason: String },
    #[error("TLS private key {}: {reason}", path.display())]
    Key { path: PathBuf, reason: String },
    #[error("TLS private key {} does not go with certificate {}: {reason}", key.display(), cert.display())]
    Pair {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
}

/// pingora's settings for the TLS listener of `tls`: the checked key pair,
/// ALPN `h2` and `http/1.1`.
pub fn listener(tls: &TlsSettings) -> Result<ListenerTls, TlsError> {
    let key = certified_key(tls)?;
    // The paths are unused: a resolver is set.
    let mut settings = ListenerTls::intermediate("", "").map_err(|e| TlsError::Cert {
        path: tls.cert_path.clone(),
        reason: e.to_string(),
    })?;
    let resolver: Arc<dyn ResolvesServerCert> = Arc::new(SingleCertAndKey::from(key));
    settings.set_cert_resolver(resolver);
    settings.enable_h2();
    Ok(settings)
}

/// Reads and checks the certificate chain and key of `tls`.
pub fn certified_key(tls: &TlsSettings) -> Result<CertifiedKey, TlsError> {
    let cert_err = |reason: String| TlsError::Cert {
        path: tls.cert_path.clone(),
        reason,
    };
    let key_err = |reason: String| TlsError::Key {
        path: tls.key_path.clone(),
        reason,
    };
    let cert = readable(&tls.cert_path).map_err(cert_err)?;
    let key = readable(&tls.key_path).map_err(key_err)?;

    let first = pingora::tls::load_pem_file_ca(&cert).map_err(|e| cert_err(e.to_string()))?;
    if first.is_empty() {
        return Err(cert_err(
            "no certificate in it (PEM `BEGIN CERTIFICATE`)".to_owned(),
        ));
    }
    let found =
        pingora::tls::load_pem_file_private_key(&key).map_err(|e| key_err(e.to_string()))?;
    if found.is_empty() {
        return Err(key_err(
            "no private key in it (PEM PKCS#8, PKCS#1 or SEC1)".to_owned(),
        ));
    }
    let pair = pingora::tls::load_certs_and_key_files(&cert, &key).map_err(|e| TlsError::Pair {
        cert: tls.cert_path.clone(),
        key: tls.key_path.clone(),
        reason: e.to_string(),
    })?;
    let Some((chain, private)) = pair else {
        return Err(key_err("no usable private key in it".to_owned()));
    };
    pingora::tls::install_default_crypto_provider();
    let Some(provider) = CryptoProvider::get_default() else {
        return Err(key_err("no TLS crypto provider".to_owned()));
    };
    CertifiedKey::from_der(chain, private, provider).map_err(|e| TlsError::Pair {
        cert: tls.cert_path.clone(),
        key: tls.key_path.clone(),
        reason: e.to_string(),
    })
}

/// The path as UTF-8 (pingora takes `&String`), once it opens for reading.
fn readable(path: &Path) -> Result<String, String> {
    let Some(s) = path.to_str() else {
        return Err("the path is not UTF-8".to_owned());
    };
    std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    Ok(s.to_owned())
}
