//! TLS for the test server: a self-signed certificate made at start and the
//! acceptor that serves it.

use std::io;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// What a TLS test server needs: the acceptor for its connections and the
/// certificate clients must trust.
pub(crate) struct ServerTls {
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) certificate_pem: String,
    /// With client authentication: a certificate chain and key (PEM) the
    /// server accepts.
    pub(crate) client_identity: Option<(String, String)>,
}

/// Makes a fresh self-signed certificate for `localhost` and `127.0.0.1` and
/// a rustls acceptor offering `alpn` (in preference order).
///
/// The crypto provider is passed explicitly rather than installed process
/// wide, so the kit never fights the application under test over rustls's
/// global default.
/// With `client_auth`, the server also requires a client certificate issued
/// by a CA made for it, and hands out one such identity.
pub(crate) fn self_signed(alpn: &[&[u8]], client_auth: bool) -> io::Result<ServerTls> {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .map_err(io::Error::other)?;
    let certificate_pem = certified.cert.pem();
    let certificate = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?;
    let (builder, client_identity) = if client_auth {
        let (ca, identity) = client_ca_and_identity()?;
        let mut roots = RootCertStore::empty();
        roots.add(ca).map_err(io::Error::other)?;
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(io::Error::other)?;
        (builder.with_client_cert_verifier(verifier), Some(identity))
    } else {
        (builder.with_no_client_auth(), None)
    };
    let mut config = builder
        .with_single_cert(vec![certificate], key)
        .map_err(io::Error::other)?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();

    Ok(ServerTls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        certificate_pem,
        client_identity,
    })
}

/// A CA for client certificates, and one client identity it issued (chain
/// and PKCS#8 key, PEM).
fn client_ca_and_identity() -> io::Result<(rustls_pki_types::CertificateDer<'static>, (String, String))> {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(io::Error::other)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "conn-testkit client CA");
    let ca_key = rcgen::KeyPair::generate().map_err(io::Error::other)?;
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).map_err(io::Error::other)?;

    let mut params =
        rcgen::CertificateParams::new(vec!["conn-test-client".to_owned()]).map_err(io::Error::other)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "conn-test-client");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = rcgen::KeyPair::generate().map_err(io::Error::other)?;
    let cert = params.signed_by(&key, &ca).map_err(io::Error::other)?;
    Ok((ca.der().clone(), (cert.pem(), key.serialize_pem())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_a_pem_certificate_and_acceptor() {
        let tls = self_signed(&[b"h2", b"http/1.1"], false).unwrap();
        assert!(tls.certificate_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(tls.client_identity.is_none());
        let again = self_signed(&[b"h2"], true).unwrap();
        let (chain, key) = again.client_identity.as_ref().unwrap();
        assert!(chain.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(key.contains("PRIVATE KEY"));
        assert_ne!(tls.certificate_pem, again.certificate_pem, "fresh per server");
    }
}
