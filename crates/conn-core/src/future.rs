//! The boxed future type the component traits return.

use std::future::Future;
use std::pin::Pin;

/// A boxed, `Send` future: what the object-safe component traits return.
///
/// ```
/// use conn_core::BoxFuture;
///
/// fn answer() -> BoxFuture<'static, u32> {
///     Box::pin(async { 42 })
/// }
/// # let _ = answer();
/// ```
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
