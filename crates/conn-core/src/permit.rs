//! `Permit`: what a component hands out for the duration of one attempt.

use std::any::Any;
use std::fmt;

use smallbox::space::S4;
use smallbox::{SmallBox, smallbox};

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
///
/// Why inline: every admitted attempt holds one permit from the throttle
/// and one from the breaker, and both are a few words (an `Arc`, a
/// counter); kept in place (up to four words) they cost no allocation.
/// Larger values are boxed as before.
#[derive(Default)]
pub struct Permit {
    inner: Option<SmallBox<dyn Any + Send, S4>>,
}

impl Permit {
    /// A permit that holds nothing.
    pub fn none() -> Self {
        Permit { inner: None }
    }

    /// A permit holding `value` until the attempt ends.
    pub fn new<T: Any + Send>(value: T) -> Self {
        Permit {
            inner: Some(smallbox!(value)),
        }
    }

    /// Takes the value back out, if it is a `T`.
    pub fn downcast<T: Any>(self) -> Option<T> {
        self.inner?.downcast::<T>().ok().map(SmallBox::into_inner)
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("holds_value", &self.inner.is_some())
            .finish()
    }
}
