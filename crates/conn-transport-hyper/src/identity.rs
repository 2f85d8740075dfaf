//! `ClientIdentity`: a client certificate for APIs that require mutual TLS.
//!
//! Why a type of its own: the private key is a secret like any token, so it
//! lives in a `secrecy` box, never shows in `Debug`, and a parse failure
//! says what is wrong without echoing a byte of it.

use std::fmt;

use conn_core::Error;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use secrecy::{ExposeSecret, SecretSlice};

/// A client certificate chain and its private key, both PEM, presented in
/// the TLS handshake to servers that ask for one (mutual TLS).
///
/// The chain starts with the client's own certificate; the key may be
/// PKCS#8, PKCS#1 (RSA) or SEC1 (EC). Both are checked when the transport
/// is built: a chain without a certificate, a key that is not PEM, or a key
/// that does not match fail with a configuration error that quotes neither.
///
/// ```no_run
/// use conn_transport_hyper::{ClientIdentity, HyperTransport};
///
/// # fn demo() -> Result<(), conn_core::Error> {
/// let chain = std::fs::read("/etc/conn/partner-client.pem").unwrap();
/// let key = std::fs::read("/etc/conn/partner-client.key").unwrap(); // a secret
/// let transport = HyperTransport::builder()
///     .client_identity(ClientIdentity::from_pem(chain, key))
///     .build()?;
/// # let _ = transport; Ok(()) }
/// ```
#[derive(Clone)]
pub struct ClientIdentity {
    chain: Vec<u8>,
    key: SecretSlice<u8>,
}

impl ClientIdentity {
    /// An identity from a PEM certificate chain and a PEM private key.
    pub fn from_pem(chain: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        ClientIdentity {
            chain: chain.into(),
            key: SecretSlice::from(key.into()),
        }
    }

    /// The parsed chain and key, for rustls.
    pub(crate) fn parts(&self) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Error> {
        let chain = CertificateDer::pem_slice_iter(&self.chain)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| Error::config("the client certificate chain is not valid PEM"))?;
        if chain.is_empty() {
            return Err(Error::config("the client certificate chain holds no certificate"));
        }
        // The parser's error could quote the key; only the fact is reported.
        let key = PrivateKeyDer::from_pem_slice(self.key.expose_secret())
            .map_err(|_| Error::config("the client private key is not a PEM private key"))?;
        Ok((chain, key))
    }
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("chain_bytes", &self.chain.len())
            .field("key", &"[REDACTED]")
            .finish()
    }
}
