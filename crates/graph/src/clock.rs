//! The one source of wall-clock time for the client and everything built on it.
//!
//! Library code never calls `Timestamp::now()` itself: it asks a [`Clock`], so token
//! renewal, `Retry-After` dates, journal timestamps and pending-invitation ages can all
//! be tested at a fixed instant. The client carries its clock in
//! [`ClientOptions::clock`](crate::ClientOptions::clock); `b2b-convert-core` re-exports
//! this module for the journal and status.
//!
//! Waiting (pacing, backoff) uses tokio's monotonic clock instead, so that paused-time
//! tests stay exact; only "what time is it" comes from here.

use std::fmt;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;

/// A source of the current time.
///
/// ```
/// use b2b_graph::clock::{Clock, FixedClock};
/// let clock = FixedClock::new("2026-11-24T10:00:00Z".parse().unwrap());
/// assert_eq!(clock.now().to_string(), "2026-11-24T10:00:00Z");
/// clock.set("2026-11-25T10:00:00Z".parse().unwrap());
/// assert_eq!(clock.now().to_string(), "2026-11-25T10:00:00Z");
/// ```
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// A shared clock, as the client, the credentials and the journal hold it.
pub type SharedClock = Arc<dyn Clock>;

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// The system clock, shared.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that stands still until moved: for tests.
pub struct FixedClock(Mutex<Timestamp>);

impl fmt::Debug for FixedClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FixedClock").field(&self.now()).finish()
    }
}

impl FixedClock {
    /// A clock showing `at`.
    pub fn new(at: Timestamp) -> Self {
        Self(Mutex::new(at))
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
