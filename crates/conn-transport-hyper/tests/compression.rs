//! Response compression over real sockets: what is offered, what is
//! decoded, and that the body limit counts decoded bytes.

use std::sync::Arc;

use async_compression::Level;
use async_compression::tokio::bufread::{BrotliEncoder, GzipEncoder, ZlibEncoder, ZstdEncoder};
use conn_core::{Connector, Context, Request};
use conn_testkit::{Reply, TestServer};
use conn_transport_hyper::{Compression, HyperTransport};
use http::Method;
use tokio::io::AsyncReadExt;

async fn encode(encoding: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        "gzip" => {
            GzipEncoder::with_quality(data, Level::Fastest)
                .read_to_end(&mut out)
                .await
        }
        "deflate" => {
            ZlibEncoder::with_quality(data, Level::Fastest)
                .read_to_end(&mut out)
                .await
        }
        "br" => {
            BrotliEncoder::with_quality(data, Level::Fastest)
                .read_to_end(&mut out)
                .await
        }
        "zstd" => {
            ZstdEncoder::with_quality(data, Level::Fastest)
                .read_to_end(&mut out)
                .await
        }
        other => panic!("no encoder for {other}"),
    }
    .unwrap();
    out
}

fn connector(server: &TestServer, transport: HyperTransport) -> Connector {
    Connector::builder("compressed")
        .base_url(server.url())
        .allow_http(true)
        .transport(Arc::new(transport))
        .build()
        .unwrap()
}

/// A JSON document of about 200 KB that compresses well.
fn document() -> Vec<u8> {
    let items: Vec<String> = (0..4000)
        .map(|i| format!(r#"{{"id":{i},"name":"item {i}"}}"#))
        .collect();
    format!("[{}]", items.join(",")).into_bytes()
}

#[tokio::test]
async fn every_offered_encoding_is_decoded_and_its_headers_removed() {
    let server = TestServer::start().await.unwrap();
    let original = document();
    for encoding in ["gzip", "deflate", "br", "zstd"] {
        let wire = encode(encoding, &original).await;
        assert!(wire.len() < original.len() / 4);
        let path = format!("/{encoding}");
        server.route(
            Method::GET,
            &path,
            [Reply::json(200, wire).header("content-encoding", encoding)],
        );
        let connector = connector(&server, HyperTransport::builder().build().unwrap());

        let response = connector.call(Request::get(&path), Context::new()).await.unwrap();
        assert_eq!(response.body().as_ref(), original.as_slice(), "{encoding}");
        assert!(response.headers().get("content-encoding").is_none(), "{encoding}");
        assert!(response.headers().get("content-length").is_none(), "{encoding}");

        let mut streamed = Vec::new();
        let mut body = connector
            .call_stream(Request::get(&path), Context::new())
            .await
            .unwrap()
            .into_body();
        while let Some(chunk) = body.next_chunk().await {
            streamed.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(streamed, original, "{encoding} streamed");

        let sent = &server.requests_to(&path)[0];
        assert_eq!(sent.header("accept-encoding"), Some("gzip, deflate, br, zstd"));
    }
}

#[tokio::test]
async fn compression_is_configurable_and_off_per_request() {
    let server = TestServer::start().await.unwrap();
    let wire = encode("gzip", b"hello").await;
    server.route(
        Method::GET,
        "/data",
        [Reply::json(200, wire.clone()).header("content-encoding", "gzip")],
    );

    // Off for the transport: nothing offered, and a body the server compresses anyway is handed over as sent.
    let off = connector(
        &server,
        HyperTransport::builder()
            .compression(Compression::none())
            .build()
            .unwrap(),
    );
    let response = off.call(Request::get("/data"), Context::new()).await.unwrap();
    assert_eq!(response.body().as_ref(), wire.as_slice());
    assert_eq!(response.headers()["content-encoding"], "gzip");
    assert_eq!(server.requests_to("/data")[0].header("accept-encoding"), None);

    // A subset.
    let gzip_only = connector(
        &server,
        HyperTransport::builder()
            .compression(Compression::none().gzip(true).brotli(true))
            .build()
            .unwrap(),
    );
    let response = gzip_only
        .call(Request::get("/data"), Context::new())
        .await
        .unwrap();
    assert_eq!(response.body(), "hello");
    assert_eq!(
        server.requests_to("/data")[1].header("accept-encoding"),
        Some("gzip, br")
    );

    // Off for one request: its own header wins and its body is not touched.
    let default = connector(&server, HyperTransport::builder().build().unwrap());
    let response = default
        .call(
            Request::get("/data").header("accept-encoding", "identity"),
            Context::new(),
        )
        .await
        .unwrap();
    assert_eq!(response.body().as_ref(), wire.as_slice());
    assert_eq!(
        server.requests_to("/data")[2].header("accept-encoding"),
        Some("identity")
    );
}

#[tokio::test]
async fn a_gzip_bomb_fails_at_the_limit_on_decoded_bytes() {
    const LIMIT: usize = 1024 * 1024;
    let server = TestServer::start().await.unwrap();
    // 64 MiB of zeros in about 64 KB: the ratio of a 10 MB gzip that expands to 10 GB.
    let zeros = vec![0u8; 64 * 1024 * 1024];
    let mut bomb = Vec::new();
    GzipEncoder::with_quality(&zeros[..], Level::Default)
        .read_to_end(&mut bomb)
        .await
        .unwrap();
    assert!(
        bomb.len() < LIMIT / 8,
        "the wire body ({} bytes) is far under the limit",
        bomb.len()
    );
    server.route(
        Method::GET,
        "/bomb",
        [Reply::json(200, bomb).header("content-encoding", "gzip")],
    );
    let connector = connector(
        &server,
        HyperTransport::builder().body_limit(LIMIT).build().unwrap(),
    );

    let err = connector
        .call(Request::get("/bomb"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_body_too_large(), "{err}");
    assert!(err.to_string().contains("decoded"), "{err}");

    // Streamed: the error arrives once the decoded bytes pass the limit, and
    // no more than one decoder buffer past it was ever handed over.
    let mut body = connector
        .call_stream(Request::get("/bomb"), Context::new())
        .await
        .unwrap()
        .into_body();
    let err = loop {
        match body.next_chunk().await {
            Some(Ok(chunk)) => assert!(chunk.len() <= 64 * 1024),
            Some(Err(err)) => break err,
            None => panic!("the bomb passed the limit"),
        }
    };
    assert!(err.is_body_too_large(), "{err}");
    assert!(body.received() <= LIMIT as u64);
}

#[tokio::test]
async fn a_truncated_or_corrupt_body_is_an_error_not_a_panic() {
    let server = TestServer::start().await.unwrap();
    let whole = encode("gzip", &document()).await;
    // The body is complete on the wire but the gzip stream stops half way.
    let cut = whole[..whole.len() / 2].to_vec();
    // Not gzip at all behind a gzip header.
    let corrupt = [&whole[..10], &[0xff; 64][..]].concat();
    server.route(
        Method::GET,
        "/cut",
        [Reply::json(200, cut).header("content-encoding", "gzip")],
    );
    server.route(
        Method::GET,
        "/corrupt",
        [Reply::json(200, corrupt).header("content-encoding", "gzip")],
    );
    server.route(
        Method::GET,
        "/dropped",
        [Reply::json(200, whole.clone())
            .header("content-encoding", "gzip")
            .truncate_body(whole.len() / 2)],
    );
    let connector = connector(&server, HyperTransport::builder().build().unwrap());

    let err = connector
        .call(Request::get("/cut"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_connection_lost(), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");

    let err = connector
        .call(Request::get("/corrupt"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_decode(), "{err}");

    // The connection breaks in the middle: the wire error comes through the decoder unchanged.
    let err = connector
        .call(Request::get("/dropped"), Context::new())
        .await
        .unwrap_err();
    assert!(err.is_connection_lost(), "{err}");
}

#[tokio::test]
async fn head_and_empty_responses_are_not_decoded() {
    let server = TestServer::start().await.unwrap();
    server.route(
        Method::HEAD,
        "/h",
        [Reply::status(200).header("content-encoding", "gzip")],
    );
    server.route(
        Method::GET,
        "/nothing",
        [Reply::status(204).header("content-encoding", "gzip")],
    );
    let connector = connector(&server, HyperTransport::builder().build().unwrap());
    let response = connector
        .call(Request::new(Method::HEAD, "/h"), Context::new())
        .await
        .unwrap();
    assert!(response.body().is_empty());
    let response = connector
        .call(Request::get("/nothing"), Context::new())
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
}
