//! `StoreKey` and `Cipher`: how secrets at rest are sealed, by an encrypted
//! token file and by a shared store alike (XChaCha20-Poly1305, a random
//! 192-bit nonce per message, associated data binding a ciphertext to where
//! it belongs).
//!
//! It lives in conn-core because two component crates that may not depend on
//! each other (conn-auth's file store, conn-redis) seal with the same key.

use std::fmt;
use std::fs;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use zeroize::Zeroizing;

use crate::{Error, ErrorKind};

/// The 256-bit key of an encrypted store. Its `Debug` shows nothing and its
/// memory is wiped when dropped.
///
/// A key is written as 64 hex digits or as base64 (standard or URL-safe,
/// padded or not) of 32 bytes; a key file may also hold the 32 raw bytes.
/// Make one with `StoreKey::generate()?.to_base64()`, or
/// `openssl rand -base64 32` / `head -c 32 /dev/urandom | base64`.
///
/// ```
/// use conn_core::store::StoreKey;
///
/// let key = StoreKey::generate()?;
/// let text = key.to_base64();
/// # use secrecy::ExposeSecret;
/// assert!(StoreKey::parse(text.expose_secret()).is_ok());
/// assert_eq!(format!("{key:?}"), "StoreKey(<redacted>)");
/// # Ok::<(), conn_core::Error>(())
/// ```
pub struct StoreKey {
    bytes: SecretBox<[u8; 32]>,
}

impl StoreKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        StoreKey {
            bytes: SecretBox::new(Box::new(bytes)),
        }
    }

    /// A new random key from the operating system.
    pub fn generate() -> Result<Self, Error> {
        Ok(StoreKey::from_bytes(secure_bytes()?))
    }

    /// A key written as hex or base64 (see the type's docs).
    ///
    /// # Errors
    ///
    /// A configuration error that says what was expected (never the text).
    pub fn parse(text: &str) -> Result<Self, Error> {
        decode_key(text.trim().as_bytes())
            .map(StoreKey::from_bytes)
            .ok_or_else(|| Error::config("the token store key is not 32 bytes in hex or base64"))
    }

    /// The key in the environment variable `var`.
    ///
    /// # Errors
    ///
    /// A configuration error naming the variable when it is unset, not
    /// Unicode, or not a key.
    pub fn from_env(var: &str) -> Result<Self, Error> {
        let value = Zeroizing::new(std::env::var(var).map_err(|e| {
            let why = match e {
                std::env::VarError::NotPresent => "is not set",
                std::env::VarError::NotUnicode(_) => "is not valid Unicode",
            };
            Error::config(format!("the token store key variable {var} {why}"))
        })?);
        StoreKey::parse(&value).map_err(|_| {
            Error::config(format!(
                "the token store key variable {var} does not hold 32 bytes in hex or base64"
            ))
        })
    }

    /// The key in the file at `path`: hex or base64 text, or 32 raw bytes.
    /// Logs a warning when other users may read the file.
    ///
    /// # Errors
    ///
    /// A configuration error naming the file when it cannot be read or does
    /// not hold a key.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let content = Zeroizing::new(fs::read(path).map_err(|e| {
            Error::config(format!(
                "the token store key file {} cannot be read: {e}",
                path.display()
            ))
        })?);
        warn_if_shared(path);
        let text = content.trim_ascii();
        if let Some(bytes) = decode_key(text) {
            return Ok(StoreKey::from_bytes(bytes));
        }
        match <[u8; 32]>::try_from(content.as_slice()) {
            Ok(raw) => Ok(StoreKey::from_bytes(raw)),
            Err(_) => Err(Error::config(format!(
                "the token store key file {} does not hold 32 bytes in hex, base64 or raw",
                path.display()
            ))),
        }
    }

    /// The key in standard base64, to print once and keep in a secrets manager.
    pub fn to_base64(&self) -> SecretString {
        SecretString::from(STANDARD.encode(self.bytes.expose_secret()))
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKey(<redacted>)")
    }
}

/// XChaCha20-Poly1305 under a [`StoreKey`].
///
/// [`seal`](Self::seal) / [`open`](Self::open) frame a message as
/// `nonce (24 bytes) || ciphertext`; the associated data (a store key name,
/// a format tag) is authenticated, so a sealed value moved to another key
/// does not open. Formats that keep the nonce apart use
/// [`encrypt`](Self::encrypt) / [`decrypt`](Self::decrypt).
///
/// ```
/// use conn_core::store::{Cipher, StoreKey};
///
/// let cipher = Cipher::new(&StoreKey::generate()?);
/// let sealed = cipher.seal(b"refresh-token", b"tenant-a")?;
/// assert_eq!(&*cipher.open(&sealed, b"tenant-a")?, b"refresh-token");
/// assert!(cipher.open(&sealed, b"tenant-b").is_err());
/// # Ok::<(), conn_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Cipher {
    aead: XChaCha20Poly1305,
}

impl Cipher {
    /// The cipher's name, for file headers and messages.
    pub const NAME: &'static str = "XChaCha20-Poly1305";
    /// Length of a nonce.
    pub const NONCE_LEN: usize = 24;

    /// A cipher with `key`.
    pub fn new(key: &StoreKey) -> Self {
        Cipher {
            aead: XChaCha20Poly1305::new(Key::from_slice(key.bytes.expose_secret())),
        }
    }

    /// A fresh random nonce from the operating system.
    pub fn random_nonce() -> Result<[u8; 24], Error> {
        secure_bytes()
    }

    /// Encrypts and authenticates `plaintext` with `aad` under `nonce`.
    pub fn encrypt(&self, nonce: &[u8; 24], plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, Error> {
        self.aead
            .encrypt(XNonce::from_slice(nonce), Payload { msg: plaintext, aad })
            .map_err(|_| Error::new(ErrorKind::Config, "encryption failed"))
    }

    /// Decrypts `ciphertext`; fails when it, the nonce, the associated data
    /// or the key differ from what sealed it.
    pub fn decrypt(&self, nonce: &[u8], ciphertext: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        if nonce.len() != Self::NONCE_LEN {
            return Err(Error::new(
                ErrorKind::Decode,
                "the sealed value has no valid nonce",
            ));
        }
        self.aead
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad })
            .map(Zeroizing::new)
            .map_err(|_| {
                Error::new(
                    ErrorKind::Decode,
                    "the sealed value failed its integrity check (another key, or modified)",
                )
            })
    }

    /// `nonce || ciphertext` of `plaintext`, with a random nonce.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, Error> {
        let nonce = Self::random_nonce()?;
        let ciphertext = self.encrypt(&nonce, plaintext, aad)?;
        let mut sealed = Vec::with_capacity(Self::NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// The plaintext of a [`seal`](Self::seal)ed value.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        if sealed.len() < Self::NONCE_LEN {
            return Err(Error::new(ErrorKind::Decode, "the sealed value is too short"));
        }
        let (nonce, ciphertext) = sealed.split_at(Self::NONCE_LEN);
        self.decrypt(nonce, ciphertext, aad)
    }
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cipher({}, key: <redacted>)", Self::NAME)
    }
}

/// `N` bytes from the operating system's secure random source.
fn secure_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::new(
            ErrorKind::Config,
            format!("the operating system's random number generator failed: {e}"),
        )
    })?;
    Ok(bytes)
}

/// 32 bytes from 64 hex digits or from base64 in any common alphabet.
fn decode_key(text: &[u8]) -> Option<[u8; 32]> {
    if text.len() == 64 && text.iter().all(u8::is_ascii_hexdigit) {
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            *byte = u8::try_from(hi * 16 + lo).ok()?;
        }
        return Some(bytes);
    }
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| {
            let decoded = Zeroizing::new(engine.decode(text).ok()?);
            <[u8; 32]>::try_from(decoded.as_slice()).ok()
        })
}

/// Warns when other users may read a key file.
#[cfg(unix)]
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(metadata) = fs::metadata(path) {
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = %format!("{mode:o}"),
                "the key file is readable by other users; restrict it to mode 0600"
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_from_hex_and_base64() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let from_hex = decode_key(hex.as_bytes()).unwrap();
        assert_eq!(from_hex[1], 0x11);
        let b64 = STANDARD.encode(from_hex);
        assert_eq!(decode_key(b64.as_bytes()), Some(from_hex));
        assert_eq!(
            decode_key(URL_SAFE_NO_PAD.encode(from_hex).as_bytes()),
            Some(from_hex)
        );
        assert_eq!(decode_key(b"too short"), None);
        assert!(StoreKey::parse("nope").unwrap_err().is_config());
    }

    #[test]
    fn env_errors_name_the_variable_not_the_value() {
        let err = StoreKey::from_env("CONN_CORE_TEST_SURELY_UNSET_VARIABLE").unwrap_err();
        assert!(err.is_config());
        assert!(
            err.to_string()
                .contains("CONN_CORE_TEST_SURELY_UNSET_VARIABLE is not set")
        );
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_data() {
        let cipher = Cipher::new(&StoreKey::from_bytes([7; 32]));
        let other = Cipher::new(&StoreKey::from_bytes([8; 32]));
        let sealed = cipher.seal(b"secret", b"k").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(&*cipher.open(&sealed, b"k").unwrap(), b"secret");
        assert!(other.open(&sealed, b"k").is_err());
        assert!(
            cipher.open(&sealed[..10], b"k").is_err(),
            "no panic on short input"
        );
        let mut flipped = sealed.clone();
        flipped[30] ^= 1;
        assert!(cipher.open(&flipped, b"k").is_err());
    }
}
