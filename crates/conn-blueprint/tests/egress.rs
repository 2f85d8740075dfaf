//! Egress keys: a proxy and a client certificate from the blueprint, with
//! their secrets from the environment, against the test kit's proxy and a
//! server that requires a client certificate.

use std::collections::HashMap;

use conn_blueprint::{Blueprint, Registry};
use conn_core::{Context, Request};
use conn_testkit::{Reply, TestProxy, TestServer};
use http::Method;

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("conn-egress-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn a_blueprint_reaches_an_mtls_api_through_an_authenticated_proxy() {
    let server = TestServer::builder()
        .require_client_certificate()
        .start()
        .await
        .unwrap();
    server.route(Method::GET, "/v1/ping", [Reply::json(200, "{}")]);
    let proxy = TestProxy::builder()
        .require_basic_auth("svc", "pr0xy-pw")
        .start()
        .await
        .unwrap();
    let (chain, key) = server.client_identity_pem().unwrap();
    let dir = temp_dir("ok");
    let ca = write(&dir, "ca.pem", &server.ca_certificate_pem().unwrap());
    let chain = write(&dir, "client.pem", &chain);
    let text = format!(
        r#"
[connectors.partner]
base_url = "{base}/v1"
compression = false
max_connections_per_host = 4

[connectors.partner.tls]
roots = "none"
ca_file = "{ca}"
client_cert_file = "{chain}"
client_key = {{ env = "PARTNER_KEY" }}

[connectors.partner.proxy]
url = "{proxy}"
no_proxy = "example.invalid"
username = "svc"
password = {{ env = "PROXY_PASSWORD" }}
"#,
        base = server.url(),
        proxy = proxy.url(),
    );
    let env: HashMap<String, String> = [
        ("PARTNER_KEY".to_owned(), key),
        ("PROXY_PASSWORD".to_owned(), "pr0xy-pw".to_owned()),
    ]
    .into();
    let bp = Blueprint::from_str_with_env(&text, &env).unwrap();
    let config = bp.connector("partner").unwrap();
    assert!(
        !format!("{config:?}").contains("pr0xy-pw"),
        "the proxy password never shows"
    );
    let registry = Registry::from_blueprint_hyper(&bp).unwrap();

    let response = registry
        .get("partner")
        .unwrap()
        .call(Request::get("/ping"), Context::new())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(proxy.requests()[0].method, "CONNECT");
    assert_eq!(server.requests_to("/v1/ping")[0].header("accept-encoding"), None);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn half_configured_egress_is_refused_at_load() {
    let dir = temp_dir("bad");
    let chain = write(&dir, "client.pem", "not used");
    let cases = [
        ("[connectors.a.proxy]\nusername = \"svc\"\n", "proxy.username"),
        (
            "[connectors.a.proxy]\nurl = \"http://p:3128\"\nfrom_env = true\n",
            "proxy.from_env",
        ),
        (
            "[connectors.a.proxy]\nurl = \"http://p:3128\"\nusername = \"svc\"\n",
            "go together",
        ),
        (
            &*format!("[connectors.a.tls]\nclient_cert_file = \"{chain}\"\n"),
            "tls.client_key",
        ),
        ("max_connections_per_host = 0\n", "max_connections_per_host"),
    ];
    for (table, expected) in cases {
        let text = format!("[connectors.a]\nbase_url = \"https://api.example\"\n{table}");
        let err = Blueprint::from_str_with_env(&text, &HashMap::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{table}: {err}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
