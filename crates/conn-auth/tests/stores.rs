//! Token stores: the encrypted file store across a restart, wrong keys,
//! tampering, file modes; the memory store's tenant isolation.

mod common;

use std::sync::Arc;

use common::*;
use conn_auth::{
    EncryptedFileStore, MemoryStore, RefreshTokenGrant, StoreKey, StoredToken, TokenAuth, TokenStore,
};
use conn_core::{Context, Request};
use conn_testkit::{MockReply, ScriptedTransport};
use secrecy::ExposeSecret;

fn key(byte: u8) -> StoreKey {
    StoreKey::from_bytes([byte; 32])
}

#[tokio::test(start_paused = true)]
async fn a_restart_with_the_encrypted_file_store_reuses_the_rotated_refresh_token() {
    let dir = TempDir::new("restart");
    let path = dir.join("tokens.store");

    // First run: the initial refresh token is rotated; the new one is saved.
    {
        let endpoint = Arc::new(ScriptedTransport::new([token("at-1", Some(3600), Some("rt-1"))]));
        let store = Arc::new(EncryptedFileStore::open(&path, key(7)).unwrap());
        let grant =
            RefreshTokenGrant::new(client(&endpoint), store).initial_refresh_token(Some("acme"), "rt-0");
        let api_transport = Arc::new(ScriptedTransport::new([MockReply::json(200, "{}")]));
        let connector = api(Arc::new(TokenAuth::new(Arc::new(grant))), &api_transport);
        connector
            .call(Request::get("/data"), Context::new().tenant("acme"))
            .await
            .unwrap();
        assert_eq!(form_values(&endpoint, "refresh_token"), ["rt-0"]);
    }
    let on_disk = std::fs::read_to_string(&path).unwrap();
    assert!(
        !on_disk.contains("rt-1") && !on_disk.contains("acme"),
        "the file is encrypted"
    );

    // Second run, same configuration (the stale initial token included):
    // the rotated token from the file is used, never rt-0 again.
    let endpoint = Arc::new(ScriptedTransport::new([token("at-2", Some(3600), Some("rt-2"))]));
    let store = Arc::new(EncryptedFileStore::open(&path, key(7)).unwrap());
    assert_eq!(store.check().await.unwrap(), 1);
    let grant =
        RefreshTokenGrant::new(client(&endpoint), store.clone()).initial_refresh_token(Some("acme"), "rt-0");
    let api_transport = Arc::new(ScriptedTransport::new([MockReply::json(200, "{}")]));
    let connector = api(Arc::new(TokenAuth::new(Arc::new(grant))), &api_transport);
    connector
        .call(Request::get("/data"), Context::new().tenant("acme"))
        .await
        .unwrap();

    assert_eq!(form_values(&endpoint, "refresh_token"), ["rt-1"]);
    assert_eq!(bearers(&api_transport), ["Bearer at-2"]);
    let stored = store.load(Some("acme")).await.unwrap().unwrap();
    assert_eq!(stored.refresh_token().expose_secret(), "rt-2");
}

#[tokio::test]
async fn a_wrong_key_is_a_clear_error_not_garbage() {
    let dir = TempDir::new("wrong-key");
    let path = dir.join("tokens.store");
    let store = EncryptedFileStore::open(&path, key(1)).unwrap();
    store
        .save(Some("acme"), &StoredToken::new("rt-secret"))
        .await
        .unwrap();

    let other = EncryptedFileStore::open(&path, key(2)).unwrap();
    let err = other.load(Some("acme")).await.unwrap_err();
    assert!(err.is_auth_provider());
    assert!(err.to_string().contains("written with a different key"), "{err}");
    assert!(other.check().await.is_err());
    // It refuses to overwrite what it cannot read: other tenants' tokens would be lost.
    assert!(
        other
            .save(Some("globex"), &StoredToken::new("rt-g"))
            .await
            .is_err()
    );
    assert_eq!(store.check().await.unwrap(), 1);
}

#[tokio::test]
async fn a_tampered_file_is_a_clear_error_not_garbage() {
    let dir = TempDir::new("tampered");
    let path = dir.join("tokens.store");
    let store = EncryptedFileStore::open(&path, key(3)).unwrap();
    store.save(None, &StoredToken::new("rt-secret")).await.unwrap();

    // Flip one character of the ciphertext.
    let mut envelope: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let ciphertext = envelope["ciphertext"].as_str().unwrap().to_owned();
    let mut chars: Vec<char> = ciphertext.chars().collect();
    chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
    envelope["ciphertext"] = chars.into_iter().collect::<String>().into();
    std::fs::write(&path, serde_json::to_vec(&envelope).unwrap()).unwrap();

    let err = store.load(None).await.unwrap_err();
    assert!(err.is_auth_provider());
    assert!(err.to_string().contains("failed its integrity check"), "{err}");

    // Not a store at all.
    std::fs::write(&path, b"refresh_token=plain-text").unwrap();
    let err = store.load(None).await.unwrap_err();
    assert!(err.to_string().contains("not a conn-auth token store"), "{err}");
    assert!(!err.to_string().contains("plain-text"));
}

#[cfg(unix)]
#[tokio::test]
async fn the_file_is_private_and_writes_leave_no_temporary_files() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("mode");
    let path = dir.join("tokens.store");
    let store = EncryptedFileStore::open(&path, key(4)).unwrap();
    for i in 0..5 {
        store
            .save(Some(&format!("t{i}")), &StoredToken::new(format!("rt-{i}")))
            .await
            .unwrap();
    }
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["tokens.store"]);
}

#[tokio::test]
async fn the_file_store_keeps_tenants_apart_and_removes() {
    let dir = TempDir::new("tenants");
    let store = EncryptedFileStore::open(dir.join("s"), key(5)).unwrap();
    store.save(Some("a"), &StoredToken::new("rt-a")).await.unwrap();
    store.save(Some("b"), &StoredToken::new("rt-b")).await.unwrap();
    store.save(None, &StoredToken::new("rt-none")).await.unwrap();
    let a = store.load(Some("a")).await.unwrap().unwrap();
    assert_eq!(a.refresh_token().expose_secret(), "rt-a");
    assert_eq!(
        store
            .load(None)
            .await
            .unwrap()
            .unwrap()
            .refresh_token()
            .expose_secret(),
        "rt-none"
    );
    assert!(store.load(Some("c")).await.unwrap().is_none());
    // An id survives the round trip (it is what the access log names).
    let saved = StoredToken::new("rt-a2");
    store.save(Some("a"), &saved).await.unwrap();
    assert_eq!(store.load(Some("a")).await.unwrap().unwrap().id(), saved.id());

    store.remove(Some("a")).await.unwrap();
    assert!(store.load(Some("a")).await.unwrap().is_none());
    assert_eq!(store.check().await.unwrap(), 2);
}

#[tokio::test]
async fn a_missing_file_is_an_empty_store_and_a_missing_directory_a_config_error() {
    let dir = TempDir::new("missing");
    let store = EncryptedFileStore::open(dir.join("not-yet"), key(6)).unwrap();
    assert!(store.load(Some("a")).await.unwrap().is_none());
    assert_eq!(store.check().await.unwrap(), 0);
    let err = EncryptedFileStore::open(dir.join("no/such/dir/file"), key(6)).unwrap_err();
    assert!(err.is_config());
}

#[test]
fn keys_come_from_the_environment_or_a_file() {
    let dir = TempDir::new("keys");
    let generated = StoreKey::generate().unwrap();
    let text = generated.to_base64();

    let key_file = dir.join("key");
    std::fs::write(&key_file, format!("{}\n", text.expose_secret())).unwrap();
    assert!(StoreKey::from_file(&key_file).is_ok());
    std::fs::write(&key_file, [9u8; 32]).unwrap();
    assert!(StoreKey::from_file(&key_file).is_ok(), "32 raw bytes");
    std::fs::write(&key_file, "short").unwrap();
    let err = StoreKey::from_file(&key_file).unwrap_err();
    assert!(err.is_config());

    // One variable name per test process, so parallel tests cannot collide.
    let var = format!("CONN_AUTH_TEST_KEY_{}", std::process::id());
    // SAFETY: the variable is unique to this test and read only by it.
    unsafe { std::env::set_var(&var, text.expose_secret()) };
    assert!(StoreKey::from_env(&var).is_ok());
    unsafe { std::env::set_var(&var, "not a key") };
    let err = StoreKey::from_env(&var).unwrap_err();
    assert!(err.to_string().contains(&var) && !err.to_string().contains("not a key"));
    unsafe { std::env::remove_var(&var) };
}

#[tokio::test]
async fn a_file_store_written_with_one_key_reads_with_the_same_key_from_a_key_file() {
    let dir = TempDir::new("same-key");
    let key_file = dir.join("key");
    std::fs::write(
        &key_file,
        StoreKey::generate().unwrap().to_base64().expose_secret(),
    )
    .unwrap();
    let store = EncryptedFileStore::open(dir.join("s"), StoreKey::from_file(&key_file).unwrap()).unwrap();
    store.save(Some("a"), &StoredToken::new("rt-a")).await.unwrap();
    let reopened = EncryptedFileStore::open(dir.join("s"), StoreKey::from_file(&key_file).unwrap()).unwrap();
    assert!(reopened.load(Some("a")).await.unwrap().is_some());
}

#[tokio::test]
async fn the_memory_store_keeps_tenants_apart() {
    let store = MemoryStore::new();
    store.save(Some("a"), &StoredToken::new("rt-a")).await.unwrap();
    store.save(None, &StoredToken::new("rt-none")).await.unwrap();
    assert!(store.load(Some("b")).await.unwrap().is_none());
    assert_eq!(
        store
            .load(Some("a"))
            .await
            .unwrap()
            .unwrap()
            .refresh_token()
            .expose_secret(),
        "rt-a"
    );
    assert_eq!(store.len(), 2);
    store.remove(Some("a")).await.unwrap();
    assert_eq!(store.len(), 1);
}
