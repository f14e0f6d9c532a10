//! Shared "not before" gates: after a 429 every caller of the same throttle
//! scope waits out the `Retry-After` instead of adding throttled requests
//! (which Graph still counts against the quota, graph-facts §5).

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// Which Graph throttle bucket a request falls into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThrottleScope {
    /// Identity and access (users, groups, roles, domains, $batch).
    Directory,
    /// The invitation manager (150 requests / 5 s per tenant).
    Invitations,
    /// The write budget (3,000 per 150 s per app and tenant), on top of `Directory`.
    Writes,
}

impl ThrottleScope {
    /// Every scope.
    pub(crate) const ALL: [ThrottleScope; 2] =
        [ThrottleScope::Directory, ThrottleScope::Invitations];

    /// The scope's name in messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ThrottleScope::Directory => "identity and access (users, groups, roles)",
            ThrottleScope::Invitations => "invitation manager (150 per 5 s per tenant)",
            ThrottleScope::Writes => "identity writes (3,000 per 150 s)",
        }
    }
}

/// One scope's gate. After a 429 it is *cautious* (half-open): once the Retry-After
/// has passed, a single request probes; the others wait until an answer other than
/// 429 proves the quota has room. Releasing every waiter at once would spend the one
/// free slot and add throttled requests, which Graph counts against the quota too — a
/// herd that can keep a tenant's window full (seen when a resumed run meets the
/// invitations its killed predecessor sent moments before).
#[derive(Debug)]
struct Gate {
    state: Mutex<GateState>,
    probe: Semaphore,
}

#[derive(Debug, Default)]
struct GateState {
    until: Option<Instant>,
    cautious: bool,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            state: Mutex::default(),
            probe: Semaphore::new(1),
        }
    }
}

impl Gate {
    fn state(&self) -> std::sync::MutexGuard<'_, GateState> {
        // A poisoned lock only means another thread panicked mid-update of two plain
        // values; they are still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A "not before" instant per scope, shared by all clones of a client.
#[derive(Debug, Default)]
pub(crate) struct ThrottleGates {
    directory: Gate,
    invitations: Gate,
    writes: Gate,
}

/// Permission to send one request; while the scope is cautious it is the single probe.
#[derive(Debug)]
pub(crate) struct Pass<'a> {
    _probe: Option<SemaphorePermit<'a>>,
}

impl ThrottleGates {
    fn gate(&self, scope: ThrottleScope) -> &Gate {
        match scope {
            ThrottleScope::Directory => &self.directory,
            ThrottleScope::Invitations => &self.invitations,
            ThrottleScope::Writes => &self.writes,
        }
    }

    /// Push the scope's gate to at least `now + delay` and make it cautious.
    pub(crate) fn block_for(&self, scope: ThrottleScope, delay: Duration) {
        let until = Instant::now() + delay;
        let mut state = self.gate(scope).state();
        if state.until.is_none_or(|cur| cur < until) {
            state.until = Some(until);
        }
        state.cautious = true;
    }

    /// How long the scope's gate still holds callers back, if it does.
    pub(crate) fn remaining(&self, scope: ThrottleScope) -> Option<Duration> {
        let until = self.gate(scope).state().until?;
        let now = Instant::now();
        (until > now).then(|| until - now)
    }

    /// Graph admitted a request of this scope (any answer but 429): normal flow again.
    pub(crate) fn admitted(&self, scope: ThrottleScope) {
        self.gate(scope).state().cautious = false;
    }

    /// Waits until the scope's gate has passed and, while it is cautious, until this
    /// caller holds the single probe. Keep the pass until the answer is in.
    pub(crate) async fn enter(&self, scope: ThrottleScope) -> Pass<'_> {
        let gate = self.gate(scope);
        loop {
            let until = gate.state().until;
            if let Some(t) = until.filter(|t| *t > Instant::now()) {
                tokio::time::sleep_until(t).await;
                continue;
            }
            if !gate.state().cautious {
                return Pass { _probe: None };
            }
            let Ok(permit) = gate.probe.acquire().await else {
                return Pass { _probe: None };
            };
            // The state may have moved while this caller queued for the probe.
            let state = gate.state();
            if state.until.is_some_and(|t| t > Instant::now()) {
                continue;
            }
            let probe = state.cautious.then_some(permit);
            return Pass { _probe: probe };
        }
    }

    /// Waits until the scope's gate has passed (no probe held).
    #[cfg(test)]
    pub(crate) async fn wait(&self, scope: ThrottleScope) {
        drop(self.enter(scope).await);
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

    #[tokio::test(start_paused = true)]
    async fn after_a_429_one_probe_goes_and_the_rest_wait_for_its_answer() {
        let g = std::sync::Arc::new(ThrottleGates::default());
        g.block_for(ThrottleScope::Invitations, Duration::from_secs(1));
        let probe = g.enter(ThrottleScope::Invitations).await;
        let t0 = Instant::now();
        let waiter = {
            let g = g.clone();
            tokio::spawn(async move {
                let _pass = g.enter(ThrottleScope::Invitations).await;
                Instant::now()
            })
        };
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(
            !waiter.is_finished(),
            "a second request must not go while the probe is out"
        );
        g.admitted(ThrottleScope::Invitations);
        drop(probe);
        let went = waiter.await.unwrap();
        assert!(went >= t0 + Duration::from_secs(3));
        // Admitted: no probe needed any more.
        let free = g.enter(ThrottleScope::Invitations).await;
        assert!(free._probe.is_none());
    }
}
