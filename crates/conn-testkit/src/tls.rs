//! TLS for the test server: a self-signed certificate made at start and the
//! acceptor that serves it.

use std::io;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// What a TLS test server needs: the acceptor for its connections and the
/// certificate clients must trust.
pub(crate) struct ServerTls {
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) certificate_pem: String,
}

/// Makes a fresh self-signed certificate for `localhost` and `127.0.0.1` and
/// a rustls acceptor offering `alpn` (in preference order).
///
/// The crypto provider is passed explicitly rather than installed process
/// wide, so the kit never fights the application under test over rustls's
/// global default.
pub(crate) fn self_signed(alpn: &[&[u8]]) -> io::Result<ServerTls> {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .map_err(io::Error::other)?;
    let certificate_pem = certified.cert.pem();
    let certificate = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(vec![certificate], key)
        .map_err(io::Error::other)?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();

    Ok(ServerTls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        certificate_pem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_a_pem_certificate_and_acceptor() {
        let tls = self_signed(&[b"h2", b"http/1.1"]).unwrap();
        assert!(tls.certificate_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let again = self_signed(&[b"h2"]).unwrap();
        assert_ne!(tls.certificate_pem, again.certificate_pem, "fresh per server");
    }
}
