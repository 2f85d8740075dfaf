//! Typed calls on a connector that work for XML too.
//!
//! `Connector::call_as` decodes strictly (`Document::decode`), so an XML
//! document, whose numbers and booleans are strings, does not decode into a
//! struct with numeric fields there. These calls decode leniently instead.

use std::future::Future;

use conn_core::{Connector, Context, Error, Request, Response};
use serde::de::DeserializeOwned;

use crate::lenient;
use crate::mapping::Mapping;

/// Lenient typed calls on a [`Connector`] (whose normalizer should be a
/// [`Normalize`](crate::Normalize) for XML).
///
/// ```no_run
/// # async fn demo(connector: conn_core::Connector) -> Result<(), conn_core::Error> {
/// use conn_core::{Context, Request};
/// use conn_normalize::ConnectorExt;
///
/// #[derive(serde::Deserialize)]
/// struct Order { id: u64, total: f64 }
///
/// let order: Order = connector.call_decoded(Request::get("/orders/7"), Context::new()).await?;
/// # Ok(()) }
/// ```
pub trait ConnectorExt {
    /// Runs the call, normalizes the body and decodes it into `T` leniently
    /// (see [`decode`](crate::decode)).
    fn call_decoded<T>(
        &self,
        request: Request,
        context: Context,
    ) -> impl Future<Output = Result<T, Error>> + Send
    where
        T: DeserializeOwned + Send;

    /// Runs the call, normalizes the body, applies `mapping` and decodes the
    /// result into `T`.
    fn call_mapped<T>(
        &self,
        request: Request,
        context: Context,
        mapping: &Mapping,
    ) -> impl Future<Output = Result<T, Error>> + Send
    where
        T: DeserializeOwned + Send;
}

impl ConnectorExt for Connector {
    async fn call_decoded<T>(&self, request: Request, context: Context) -> Result<T, Error>
    where
        T: DeserializeOwned + Send,
    {
        let (document, response) = self.call_document(request, context).await?;
        lenient::decode_value(&document.value, "#text").map_err(|e| with_call(e, &response))
    }

    async fn call_mapped<T>(&self, request: Request, context: Context, mapping: &Mapping) -> Result<T, Error>
    where
        T: DeserializeOwned + Send,
    {
        let (document, response) = self.call_document(request, context).await?;
        mapping.apply_as(&document).map_err(|e| with_call(e, &response))
    }
}

/// Attaches what the call did, as the connector does for its own errors.
fn with_call(error: Error, response: &Response) -> Error {
    error
        .with_report(response.report().clone())
        .with_status(response.status())
}
