//! `Permit`: what a component hands out for the duration of one attempt.

use std::any::Any;
use std::fmt;

/// Held by the pipeline while one attempt runs, then given back or dropped.
///
/// A throttle puts its concurrency slot in here, a breaker its half-open probe
/// slot; the component's own type does its release in `Drop`, so the slot is
/// freed when the attempt ends, also when the caller cancels the call.
///
/// ```
/// use conn_core::Permit;
///
/// let permit = Permit::new(7_u32);
/// assert_eq!(permit.downcast::<u32>(), Some(7));
/// assert!(Permit::none().downcast::<u32>().is_none());
/// ```
#[derive(Default)]
pub struct Permit {
    inner: Option<Box<dyn Any + Send + Sync>>,
}

impl Permit {
    /// A permit that holds nothing.
    pub fn none() -> Self {
        Permit { inner: None }
    }

    /// A permit holding `value` until the attempt ends.
    pub fn new<T: Any + Send + Sync>(value: T) -> Self {
        Permit {
            inner: Some(Box::new(value)),
        }
    }

    /// Takes the value back out, if it is a `T`.
    pub fn downcast<T: Any>(self) -> Option<T> {
        self.inner?.downcast::<T>().ok().map(|b| *b)
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("holds_value", &self.inner.is_some())
            .finish()
    }
}
