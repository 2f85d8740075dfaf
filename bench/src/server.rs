//! The benchmark's server: small JSON, 64 KiB JSON, small XML, and a flaky
//! route (10% 503 with `Retry-After: 0`, 5% connection dropped mid-request).

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

const SMALL: &str = r#"{"id":42,"name":"widget","price":12.5,"tags":["a","b"],"in_stock":true}"#;
const XML: &str = r#"<?xml version="1.0"?><item id="42"><name>widget</name><price>12.5</price><tag>a</tag><tag>b</tag></item>"#;

fn large() -> Bytes {
    let mut body = String::from(r#"{"items":["#);
    let mut i = 0;
    while body.len() < 64 * 1024 - 128 {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            r#"{{"id":{i},"name":"item-{i}","price":{}.5,"tags":["x","y"]}}"#,
            i % 100
        ));
        i += 1;
    }
    body.push_str("]}");
    Bytes::from(body)
}

pub fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("port {}", listener.local_addr()?.port());
        let large = large();
        let flaky = std::sync::Arc::new(AtomicU64::new(0));
        loop {
            // A full file table or a reset handshake must not end the server.
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    continue;
                }
            };
            stream.set_nodelay(true)?;
            let (large, flaky) = (large.clone(), flaky.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let (large, flaky) = (large.clone(), flaky.clone());
                    async move { respond(request.uri().path(), &large, &flaky) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

/// A dropped connection is modelled by failing the service: hyper closes the
/// connection without a response.
fn respond(path: &str, large: &Bytes, flaky: &AtomicU64) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let json = |body: Bytes| {
        Response::builder()
            .header("content-type", "application/json")
            .body(Full::new(body))
            .map_err(std::io::Error::other)
    };
    match path {
        "/small" => json(Bytes::from_static(SMALL.as_bytes())),
        "/large" => json(large.clone()),
        "/xml" => Response::builder()
            .header("content-type", "application/xml")
            .body(Full::new(Bytes::from_static(XML.as_bytes())))
            .map_err(std::io::Error::other),
        "/flaky" => match flaky.fetch_add(1, Ordering::Relaxed) % 20 {
            0 | 10 => Response::builder()
                .status(503)
                .header("retry-after", "0")
                .body(Full::new(Bytes::new()))
                .map_err(std::io::Error::other),
            5 => Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "scripted reset",
            )),
            _ => json(Bytes::from_static(SMALL.as_bytes())),
        },
        _ => Response::builder()
            .status(404)
            .body(Full::new(Bytes::new()))
            .map_err(std::io::Error::other),
    }
}
