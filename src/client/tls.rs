//! Which HTTPS servers the clients trust: by default the Mozilla roots bundled with
//! the binaries (`webpki-roots`, the same on every machine); with `--ca-cert FILE`
//! (`BENCHBOARD_CA_CERT`) only the certificates in that PEM file, as `curl --cacert`
//! does, e.g. a contest's own CA or a test's self-signed certificate. Each binary
//! sets it once at start ([`trust_only_ca_file`]); every agent and `wss://` connection
//! made afterwards uses it.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::ClientError;

/// The certificates of `--ca-cert`, when given.
static ONLY_TRUSTED: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();

/// From now on, trusts only the CA certificates of the PEM file at `path` for https://
/// and wss:// (a second call keeps the first file).
pub fn trust_only_ca_file(path: &Path) -> Result<(), ClientError> {
    let unusable = |reason: String| ClientError::CaCert {
        path: path.display().to_string(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| unusable(format!("cannot read it: {e}")))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unusable(format!("not a PEM certificate: {e}")))?;
    if certificates.is_empty() {
        return Err(unusable(
            "no PEM certificate in it (expected a \"BEGIN CERTIFICATE\" block)".into(),
        ));
    }
    let _ = ONLY_TRUSTED.set(certificates);
    Ok(())
}

/// The TLS settings of the clients' HTTP agents.
pub(crate) fn ureq_tls_config() -> ureq::tls::TlsConfig {
    use ureq::tls::{Certificate, RootCerts};
    let roots = match ONLY_TRUSTED.get() {
        Some(certificates) => RootCerts::Specific(Arc::new(
            certificates
                .iter()
                .map(|c| Certificate::from_der(c.as_ref()).to_owned())
                .collect(),
        )),
        None => RootCerts::WebPki,
    };
    ureq::tls::TlsConfig::builder().root_certs(roots).build()
}

/// A rustls client configuration with the same trust, for `wss://`.
pub fn rustls_client_config() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    match ONLY_TRUSTED.get() {
        Some(certificates) => {
            roots.add_parsable_certificates(certificates.iter().cloned());
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports rustls's default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}
