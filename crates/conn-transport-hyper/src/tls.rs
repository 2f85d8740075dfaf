//! The rustls client configuration: which roots are trusted.

use std::sync::Arc;

use conn_core::Error;

use crate::ClientIdentity;
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Which certificate authorities the transport trusts.
///
/// ```
/// use conn_transport_hyper::Roots;
///
/// // The Mozilla roots compiled into the binary (the default), plus a private CA.
/// let roots = Roots::webpki().with_pem(b"-----BEGIN CERTIFICATE-----\n...".to_vec());
/// # let _ = roots;
/// ```
#[derive(Clone, Debug)]
pub struct Roots {
    webpki: bool,
    native: bool,
    pems: Vec<Vec<u8>>,
}

impl Roots {
    /// The Mozilla root set compiled in (webpki-roots): same behaviour on every machine.
    pub fn webpki() -> Self {
        Roots {
            webpki: true,
            native: false,
            pems: Vec::new(),
        }
    }

    /// The operating system's trust store.
    pub fn native() -> Self {
        Roots {
            webpki: false,
            native: true,
            pems: Vec::new(),
        }
    }

    /// No root at all: add private CAs with [`with_pem`](Self::with_pem).
    pub fn none() -> Self {
        Roots {
            webpki: false,
            native: false,
            pems: Vec::new(),
        }
    }

    /// Also trusts every certificate in a PEM bundle (a private or test CA).
    pub fn with_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.pems.push(pem.into());
        self
    }

    /// The rustls configuration: these roots, and `identity` for servers
    /// that ask for a client certificate.
    pub(crate) fn client_config(
        &self,
        identity: Option<&ClientIdentity>,
    ) -> Result<rustls::ClientConfig, Error> {
        let mut store = RootCertStore::empty();
        if self.webpki {
            store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        if self.native {
            // Unreadable individual certificates are skipped, as browsers do.
            let loaded = rustls_native_certs::load_native_certs();
            for cert in loaded.certs {
                let _ = store.add(cert);
            }
        }
        for pem in &self.pems {
            let mut found = false;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|_| Error::config("a custom root CA is not valid PEM"))?;
                store
                    .add(cert)
                    .map_err(|e| Error::config("a custom root CA was rejected").with_source(e))?;
                found = true;
            }
            if !found {
                return Err(Error::config("a custom root CA bundle holds no certificate"));
            }
        }
        if store.is_empty() {
            return Err(Error::config("no trusted root certificate is configured"));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::config("TLS setup failed").with_source(e))?
            .with_root_certificates(store);
        match identity {
            None => Ok(config.with_no_client_auth()),
            Some(identity) => {
                let (chain, key) = identity.parts()?;
                config.with_client_auth_cert(chain, key).map_err(|e| {
                    Error::config("the client certificate and key do not form a usable identity")
                        .with_source(e)
                })
            }
        }
    }
}

impl Default for Roots {
    fn default() -> Self {
        Roots::webpki()
    }
}
