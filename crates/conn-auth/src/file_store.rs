//! `EncryptedFileStore`: refresh tokens in one encrypted file, so a rotated
//! refresh token survives a restart.
//!
//! The file is a small JSON envelope around one AEAD ciphertext
//! (XChaCha20-Poly1305, random 192-bit nonce per write): the envelope names
//! the format, version and cipher, carries a key check (the tag of an empty
//! message under a fixed nonce: it tells a wrong key from a modified file
//! without revealing anything about the key) and the nonce. The plaintext is
//! the JSON list of entries: tenant, token id, refresh token, time stored.
//! Format, version and cipher are authenticated as associated data, so they
//! cannot be swapped either.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use conn_core::store::Cipher;
use conn_core::{BoxFuture, Error, ErrorKind};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::store::access_log;
use crate::{StoredToken, TokenId, TokenStore, random};

/// The environment variable [`StoreKey::from_env`] is usually given.
pub const DEFAULT_KEY_VAR: &str = "CONN_AUTH_STORE_KEY";

const FORMAT: &str = "conn-auth-token-store";
const VERSION: u32 = 1;
const CIPHER: &str = Cipher::NAME;
/// Associated data of the ciphertext: binds it to format, version and cipher.
const AAD: &[u8] = b"conn-auth-token-store/1/XChaCha20-Poly1305";
/// Associated data and nonce of the key check.
const KEY_CHECK_AAD: &[u8] = b"conn-auth-token-store key check";
const KEY_CHECK_NONCE: [u8; 24] = *b"conn-auth key check v1\0\0";

/// The key of an [`EncryptedFileStore`]: conn-core's, the same key a
/// shared store (conn-redis) seals tokens with.
pub use conn_core::store::StoreKey;

/// A [`TokenStore`] in one file, encrypted and authenticated with
/// XChaCha20-Poly1305, so refresh tokens (rotated ones above all) survive a
/// restart and are useless to whoever copies the file without the key.
///
/// - Writes are atomic: a temporary file in the same directory, created with
///   mode 0600, written and fsynced, renamed over the store, then the
///   directory fsynced. A crash leaves the old file or the new one, never a
///   mix, and the file is never readable by other users.
/// - A wrong key, a modified file or a file that is not a store give a clear
///   [`AuthProvider`](ErrorKind::AuthProvider) error, never garbage, and the
///   store refuses to overwrite a file it cannot read (other tenants' tokens
///   would be lost).
/// - Every read and write logs an access event (tenant, token id, outcome).
///
/// The file is tiny and touched only when a token is refreshed, so it is read
/// and written with blocking calls: a hop to a blocking thread would cost
/// more than the I/O, and would let a paused test clock race ahead.
/// One process should own a file: concurrent writers in several processes
/// would overwrite each other's entries.
///
/// ```no_run
/// use std::sync::Arc;
/// use conn_auth::{DEFAULT_KEY_VAR, EncryptedFileStore, StoreKey};
///
/// let key = StoreKey::from_env(DEFAULT_KEY_VAR)?;
/// let store = Arc::new(EncryptedFileStore::open("/var/lib/sync/tokens.store", key)?);
/// // RefreshTokenGrant::new(client, store)...
/// # Ok::<(), conn_core::Error>(())
/// ```
pub struct EncryptedFileStore {
    path: PathBuf,
    cipher: Cipher,
    key_check: Vec<u8>,
    /// Serializes read-modify-write cycles of this process.
    lock: Mutex<()>,
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    format: String,
    version: u32,
    cipher: String,
    key_check: String,
    nonce: String,
    ciphertext: String,
}

#[derive(Serialize)]
struct ContentOut<'a> {
    entries: Vec<EntryOut<'a>>,
}

#[derive(Serialize)]
struct EntryOut<'a> {
    tenant: Option<&'a str>,
    token_id: &'a str,
    refresh_token: &'a str,
    saved_at: u64,
}

#[derive(Deserialize)]
struct ContentIn {
    entries: Vec<EntryIn>,
}

#[derive(Deserialize)]
struct EntryIn {
    tenant: Option<String>,
    token_id: String,
    refresh_token: SecretString,
    saved_at: u64,
}

type Entries = HashMap<Option<String>, StoredToken>;

fn store_error(message: String) -> Error {
    Error::new(ErrorKind::AuthProvider, message)
}

impl EncryptedFileStore {
    /// A store in the file at `path` (created on the first save), encrypted
    /// with `key`. Nothing is read yet: see [`check`](Self::check) to verify
    /// the key at start-up.
    ///
    /// # Errors
    ///
    /// A configuration error when `path` has no file name or its directory
    /// does not exist.
    pub fn open(path: impl Into<PathBuf>, key: StoreKey) -> Result<Self, Error> {
        let path = path.into();
        if path.file_name().is_none() {
            return Err(Error::config(format!(
                "the token store path {} has no file name",
                path.display()
            )));
        }
        if !directory_of(&path).is_dir() {
            return Err(Error::config(format!(
                "the directory of the token store {} does not exist",
                path.display()
            )));
        }
        let cipher = Cipher::new(&key);
        let key_check = cipher
            .encrypt(&KEY_CHECK_NONCE, &[], KEY_CHECK_AAD)
            .map_err(|_| Error::config("the token store key cannot be used"))?;
        Ok(EncryptedFileStore {
            path,
            cipher,
            key_check,
            lock: Mutex::new(()),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads and decrypts the file, returning how many tenants it holds (0
    /// when it does not exist yet): fails at start-up, rather than at the
    /// first refresh, when the key is wrong or the file damaged.
    pub async fn check(&self) -> Result<usize, Error> {
        let _guard = self.lock();
        Ok(self.read_entries()?.len())
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        // The guard protects no data, only the order of file operations.
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read_entries(&self) -> Result<Entries, Error> {
        let path = self.path.display();
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Entries::new()),
            Err(e) => return Err(store_error(format!("the token store {path} cannot be read: {e}"))),
        };
        warn_if_shared(&self.path, "token store");
        let not_a_store = || {
            store_error(format!(
                "the token store {path} is not a conn-auth token store or is damaged"
            ))
        };
        let envelope: Envelope = serde_json::from_slice(&bytes).map_err(|_| not_a_store())?;
        if envelope.format != FORMAT {
            return Err(not_a_store());
        }
        if envelope.version != VERSION || envelope.cipher != CIPHER {
            return Err(store_error(format!(
                "the token store {path} has version {} / cipher {:?}, this build reads version {VERSION} / {CIPHER}",
                envelope.version,
                envelope.cipher.chars().take(32).collect::<String>()
            )));
        }
        let decode = |field: &str| STANDARD.decode(field).map_err(|_| not_a_store());
        if decode(&envelope.key_check)? != self.key_check {
            return Err(store_error(format!(
                "the token store {path} was written with a different key: check the key (environment variable or key file)"
            )));
        }
        let nonce = decode(&envelope.nonce)?;
        if nonce.len() != 24 {
            return Err(not_a_store());
        }
        let ciphertext = decode(&envelope.ciphertext)?;
        let plaintext = self.cipher.decrypt(&nonce, &ciphertext, AAD).map_err(|_| {
            store_error(format!(
                "the token store {path} failed its integrity check: it was modified or damaged; \
                 restore it from a backup, or delete it and seed new refresh tokens"
            ))
        })?;
        let content: ContentIn = serde_json::from_slice(&plaintext)
            .map_err(|_| store_error(format!("the token store {path} decrypted to unreadable content")))?;
        Ok(content
            .entries
            .into_iter()
            .map(|entry| {
                let saved_at = UNIX_EPOCH + Duration::from_secs(entry.saved_at);
                let token = StoredToken::restore(
                    TokenId::from_stored(&entry.token_id),
                    entry.refresh_token,
                    saved_at,
                );
                (entry.tenant, token)
            })
            .collect())
    }

    fn write_entries(&self, entries: &Entries) -> Result<(), Error> {
        let mut sorted: Vec<(&Option<String>, &StoredToken)> = entries.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let content = ContentOut {
            entries: sorted
                .into_iter()
                .map(|(tenant, token)| EntryOut {
                    tenant: tenant.as_deref(),
                    token_id: token.id().as_str(),
                    refresh_token: token.refresh_token().expose_secret(),
                    saved_at: token
                        .saved_at()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs()),
                })
                .collect(),
        };
        // Sized up front so serialization does not leave copies of the
        // secrets behind in reallocated (and never wiped) buffers.
        let mut plaintext = Zeroizing::new(Vec::with_capacity(512 + 512 * entries.len()));
        serde_json::to_writer(&mut *plaintext, &content)
            .map_err(|_| store_error("the token store content could not be serialized".to_owned()))?;
        let nonce = Cipher::random_nonce()
            .map_err(|e| store_error(format!("no nonce for the token store: {}", e.message())))?;
        let ciphertext = self
            .cipher
            .encrypt(&nonce, &plaintext, AAD)
            .map_err(|_| store_error("the token store content could not be encrypted".to_owned()))?;
        let envelope = Envelope {
            format: FORMAT.to_owned(),
            version: VERSION,
            cipher: CIPHER.to_owned(),
            key_check: STANDARD.encode(&self.key_check),
            nonce: STANDARD.encode(nonce),
            ciphertext: STANDARD.encode(ciphertext),
        };
        let bytes = serde_json::to_vec_pretty(&envelope)
            .map_err(|_| store_error("the token store envelope could not be serialized".to_owned()))?;
        atomic_write(&self.path, &bytes).map_err(|e| {
            store_error(format!(
                "the token store {} could not be written: {e}",
                self.path.display()
            ))
        })
    }

    /// Reads the entries, applies `change`, writes them back; logs the access.
    fn update(
        &self,
        op: &'static str,
        tenant: Option<&str>,
        token_id: Option<&TokenId>,
        change: impl FnOnce(&mut Entries) -> Option<TokenId>,
    ) -> Result<(), Error> {
        let _guard = self.lock();
        let result = self.read_entries().and_then(|mut entries| {
            let affected = change(&mut entries);
            self.write_entries(&entries).map(|()| affected)
        });
        match result {
            Ok(affected) => {
                access_log("file", op, tenant, token_id.or(affected.as_ref()), "ok");
                Ok(())
            }
            Err(err) => {
                access_log("file", op, tenant, token_id, "error");
                Err(err)
            }
        }
    }
}

impl TokenStore for EncryptedFileStore {
    fn load<'a>(&'a self, tenant: Option<&'a str>) -> BoxFuture<'a, Result<Option<StoredToken>, Error>> {
        Box::pin(async move {
            let read = {
                let _guard = self.lock();
                self.read_entries()
            };
            match read {
                Ok(mut entries) => {
                    let found = entries.remove(&tenant.map(str::to_owned));
                    let outcome = if found.is_some() { "found" } else { "absent" };
                    access_log(
                        "file",
                        "read",
                        tenant,
                        found.as_ref().map(StoredToken::id),
                        outcome,
                    );
                    Ok(found)
                }
                Err(err) => {
                    access_log("file", "read", tenant, None, "error");
                    Err(err)
                }
            }
        })
    }

    fn save<'a>(
        &'a self,
        tenant: Option<&'a str>,
        token: &'a StoredToken,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.update("write", tenant, Some(token.id()), |entries| {
                entries.insert(tenant.map(str::to_owned), token.clone());
                None
            })
        })
    }

    fn remove<'a>(&'a self, tenant: Option<&'a str>) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.update("remove", tenant, None, |entries| {
                entries
                    .remove(&tenant.map(str::to_owned))
                    .map(|removed| removed.id().clone())
            })
        })
    }
}

impl fmt::Debug for EncryptedFileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedFileStore")
            .field("path", &self.path)
            .field("cipher", &CIPHER)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// The directory holding `path` (`.` for a bare file name).
fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Replaces `path` with `bytes` atomically and durably.
fn atomic_write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = directory_of(path);
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.tmp", random::id_hex()));
    let result = (|| {
        let mut file = create_private(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)?;
        // The rename is durable only once the directory entry is.
        sync_directory(dir)
    })();
    if result.is_err() {
        // Best effort: after a successful rename there is no temp file left.
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Creates a new file readable and writable by its owner only, from the
/// first byte on (no window in which it is world-readable).
#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private(path: &Path) -> std::io::Result<File> {
    fs::OpenOptions::new().write(true).create_new(true).open(path)
}

#[cfg(unix)]
fn sync_directory(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_directory(_dir: &Path) -> std::io::Result<()> {
    // Directories cannot be opened for fsync on this platform.
    Ok(())
}

/// Warns when other users may read a file holding secrets.
#[cfg(unix)]
fn warn_if_shared(path: &Path, what: &str) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(metadata) = fs::metadata(path) {
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = %format!("{mode:o}"),
                "the {what} is readable by other users; restrict it to mode 0600"
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &Path, _what: &str) {}
