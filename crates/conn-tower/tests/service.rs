//! `ConnectorService`: a connector, whole pipeline included, inside tower
//! stacks and behind an axum route.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::response::IntoResponse;
use axum::routing::get;
use bytes::Bytes;
use conn_core::{CallReport, Connector, Context};
use conn_tower::{ConnectorService, TowerTransport};
use http::HeaderMap;
use http::header::HeaderValue;
use http_body_util::{BodyExt, Full};
use tower::{ServiceBuilder, ServiceExt};
use tower_http::set_header::SetRequestHeaderLayer;

/// An upstream API that echoes what it received.
fn upstream() -> Router {
    Router::new()
        .route(
            "/v1/echo",
            get(|uri: http::Uri, headers: HeaderMap| async move {
                let client = headers
                    .get("x-client")
                    .map_or("-", |v| v.to_str().unwrap())
                    .to_owned();
                let host = headers
                    .get("host")
                    .map_or("-", |v| v.to_str().unwrap())
                    .to_owned();
                format!("{} client={client} host={host}", uri.path_and_query().unwrap())
            }),
        )
        .route(
            "/v1/missing",
            get(|| async { (http::StatusCode::NOT_FOUND, "no such thing") }),
        )
}

fn connector() -> Connector {
    Connector::builder("echo")
        .base_url("https://echo.test/v1")
        .transport(Arc::new(TowerTransport::new(upstream())))
        .build()
        .unwrap()
}

fn get_request(uri: &str) -> http::Request<Full<Bytes>> {
    http::Request::get(uri).body(Full::new(Bytes::new())).unwrap()
}

#[tokio::test]
async fn tower_http_layers_wrap_the_connector_and_the_report_comes_back() {
    let service = ServiceBuilder::new()
        .layer(SetRequestHeaderLayer::if_not_present(
            http::header::HeaderName::from_static("x-client"),
            HeaderValue::from_static("svc-a"),
        ))
        .concurrency_limit(4)
        .service(ConnectorService::new(connector()));

    let mut request = get_request("/echo?page=2");
    request
        .extensions_mut()
        .insert(Context::new().tenant("acme").correlation_id("c-9"));
    // A Host from the caller is the caller's hop, not the upstream's.
    request
        .headers_mut()
        .insert("host", HeaderValue::from_static("gateway.local"));
    let response = service.oneshot(request).await.unwrap();

    assert_eq!(response.status(), 200);
    let report = response.extensions().get::<CallReport>().unwrap().clone();
    assert_eq!(&*report.correlation_id, "c-9");
    assert_eq!(report.attempts.len(), 1);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "/v1/echo?page=2 client=svc-a host=-");
}

#[tokio::test]
async fn an_error_status_is_a_conn_error_and_a_url_is_refused() {
    let service = ConnectorService::new(connector());
    let err = service
        .clone()
        .oneshot(get_request("/missing"))
        .await
        .unwrap_err();
    assert!(err.is_status(), "{err}");
    assert_eq!(err.status(), Some(http::StatusCode::NOT_FOUND));
    assert_eq!(err.response_body().unwrap(), "no such thing");

    // Only the connector decides where requests (and credentials) go.
    let err = service
        .clone()
        .oneshot(get_request("https://elsewhere.test/v1/echo"))
        .await
        .unwrap_err();
    assert!(err.is_config(), "{err}");

    let big = http::Request::post("/echo")
        .body(Full::new(Bytes::from(vec![0u8; 100])))
        .unwrap();
    let err = service.request_body_limit(10).oneshot(big).await.unwrap_err();
    assert!(err.is_body_too_large(), "{err}");
}

#[tokio::test]
async fn a_connector_serves_an_axum_route() {
    // The integration layer in one process: an axum route whose handler is a connector.
    let proxy = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|err: conn_core::Error| async move {
            let status = err.status().unwrap_or(http::StatusCode::BAD_GATEWAY);
            Ok::<_, Infallible>((status, format!("upstream: {}", err.kind())).into_response())
        }))
        .map_response(IntoResponse::into_response)
        .service(ConnectorService::new(connector()));
    let app = Router::new()
        .route_service("/echo", proxy.clone())
        .route_service("/missing", proxy);

    let response = app.clone().oneshot(get_request("/echo?q=1")).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "/v1/echo?q=1 client=- host=-");

    let response = app.oneshot(get_request("/missing")).await.unwrap();
    assert_eq!(response.status(), 404);
}
