//! HTTPS: `--tls-cert` and `--tls-key` (PEM files) become the TLS configuration the
//! HTTP layer serves with (TLS runs inside tiny_http's reactor; see
//! `vendor/tiny_http/PATCHES.md`, patch 12). Every failure names the flag and the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tiny_http::TlsConfigError;
use tiny_http::rustls::ServerConfig;

/// The certificate and key files of an HTTPS server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, the server's certificate first (`--tls-cert`).
    pub cert: PathBuf,
    /// PEM private key of that certificate (`--tls-key`).
    pub key: PathBuf,
}

/// Why the TLS files cannot be served with; each message names the flag to fix.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error("{flag} {path}: cannot read it: {reason}")]
    Unreadable {
        flag: &'static str,
        path: String,
        reason: String,
    },
    /// The certificate file holds no usable PEM certificate.
    #[error("--tls-cert {path}: {reason}")]
    Certificate { path: String, reason: String },
    /// The key file holds no usable PEM private key.
    #[error("--tls-key {path}: {reason}")]
    Key { path: String, reason: String },
    /// The key does not belong to the certificate (or is of an unsupported kind).
    #[error("--tls-key {key} does not fit --tls-cert {cert}: {reason}")]
    Mismatch {
        cert: String,
        key: String,
        reason: String,
    },
}

fn read(flag: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::Unreadable {
        flag,
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Reads and checks the certificate and key into a TLS configuration.
pub fn load(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let cert = read("--tls-cert", &files.cert)?;
    let key = read("--tls-key", &files.key)?;
    let (cert_path, key_path) = (files.cert.display(), files.key.display());
    tiny_http::tls_config_from_pem(&cert, &key).map_err(|e| match e {
        TlsConfigError::NoCertificate | TlsConfigError::BadCertificate(_) => {
            TlsError::Certificate {
                path: cert_path.to_string(),
                reason: e.to_string(),
            }
        }
        TlsConfigError::BadKey(_) => TlsError::Key {
            path: key_path.to_string(),
            reason: e.to_string(),
        },
        TlsConfigError::Refused(reason) => TlsError::Mismatch {
            cert: cert_path.to_string(),
            key: key_path.to_string(),
            reason,
        },
    })
}
