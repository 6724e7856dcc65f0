//! TLS where recd terminates it itself (`[serve.tls]`): rustls with the ring provider.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

use super::config::TlsConfig;

/// Why TLS could not be set up; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Only one of the two files is set.
    #[error("serve.tls: set both cert_file and key_file (or neither)")]
    Incomplete,
    /// A PEM file could not be read or holds nothing usable.
    #[error("serve.tls.{key} {path}: {message}")]
    File {
        /// `cert_file` or `key_file`.
        key: &'static str,
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the pair (the key does not match the certificate, an unsupported key).
    #[error("serve.tls: {0}")]
    Config(String),
}

/// The acceptor `config` describes; `None` when TLS is off.
pub fn acceptor(config: &TlsConfig) -> Result<Option<TlsAcceptor>, TlsError> {
    if !config.enabled() {
        return Ok(None);
    }
    if config.cert_file.is_empty() || config.key_file.is_empty() {
        return Err(TlsError::Incomplete);
    }
    let file_error = |key, path: &str, message: String| TlsError::File {
        key,
        path: path.to_string(),
        message,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&config.cert_file)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| file_error("cert_file", &config.cert_file, e.to_string()))?;
    if certs.is_empty() {
        return Err(file_error(
            "cert_file",
            &config.cert_file,
            "no certificate in the file".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&config.key_file)
        .map_err(|e| file_error("key_file", &config.key_file, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(server))))
}
