//! Shared "not before" gates: after a 429 every caller of the same throttle
//! scope waits out the `Retry-After` instead of adding throttled requests
//! (which Graph still counts against the quota, graph-facts §5).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Which Graph throttle bucket a request falls into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThrottleScope {
    /// Identity and access (users, groups, roles, domains, $batch).
    Directory,
    /// The invitation manager (150 requests / 5 s per tenant).
    Invitations,
}

/// A "not before" instant per scope, shared by all clones of a client.
#[derive(Debug, Default)]
pub(crate) struct ThrottleGates {
    directory: Mutex<Option<Instant>>,
    invitations: Mutex<Option<Instant>>,
}

impl ThrottleGates {
    fn slot(&self, scope: ThrottleScope) -> &Mutex<Option<Instant>> {
        match scope {
            ThrottleScope::Directory => &self.directory,
            ThrottleScope::Invitations => &self.invitations,
        }
    }

    /// Push the scope's gate to at least `now + delay`.
    pub(crate) fn block_for(&self, scope: ThrottleScope, delay: Duration) {
        let until = Instant::now() + delay;
        // A poisoned lock only means another thread panicked mid-update of an
        // Option<Instant>; the value is still usable.
        let mut g = self.slot(scope).lock().unwrap_or_else(|e| e.into_inner());
        if g.is_none_or(|cur| cur < until) {
            *g = Some(until);
        }
    }

    /// Wait until the scope's gate has passed.
    pub(crate) async fn wait(&self, scope: ThrottleScope) {
        loop {
            let until = *self.slot(scope).lock().unwrap_or_else(|e| e.into_inner());
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t).await,
                _ => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waiters_sleep_until_gate() {
        let g = ThrottleGates::default();
        let t0 = Instant::now();
        g.block_for(ThrottleScope::Directory, Duration::from_millis(2128));
        g.block_for(ThrottleScope::Directory, Duration::from_millis(500)); // shorter: ignored
        g.wait(ThrottleScope::Invitations).await;
        assert_eq!(t0.elapsed(), Duration::ZERO);
        g.wait(ThrottleScope::Directory).await;
        assert_eq!(t0.elapsed(), Duration::from_millis(2128));
    }
}
