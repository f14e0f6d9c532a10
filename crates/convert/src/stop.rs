//! The one stop every worker of a run checks before it starts a step: an interrupt (the
//! caller's cancellation), a failure that concerns the whole run (a `Retry-After` longer
//! than allowed, a credential that no longer signs in), or a safety stop (invitations
//! refused). `apply`'s and `revert`'s executors share it, so both stop alike and say why
//! alike.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use b2b_graph::GraphError;
use tokio_util::sync::CancellationToken;

/// Whether, and why, a run stops taking new steps.
#[derive(Debug)]
pub(crate) struct RunStop {
    flag: AtomicBool,
    reason: Mutex<Option<String>>,
    sign_in_lost: AtomicBool,
    cancel: CancellationToken,
}

impl RunStop {
    /// A run that goes on until `cancel` is cancelled or [`RunStop::stop`] is called.
    pub(crate) fn new(cancel: CancellationToken) -> Self {
        RunStop {
            flag: AtomicBool::new(false),
            reason: Mutex::new(None),
            sign_in_lost: AtomicBool::new(false),
            cancel,
        }
    }

    /// Whether no new step may start.
    pub(crate) fn stopping(&self) -> bool {
        self.flag.load(Ordering::SeqCst) || self.cancel.is_cancelled()
    }

    /// Stops the run; the first reason given is the one kept.
    pub(crate) fn stop(&self, reason: String) {
        // The reason first: a worker that sees the flag without a reason takes it for a
        // test halt and parks.
        if let Ok(mut slot) = self.reason.lock() {
            slot.get_or_insert(reason);
        }
        self.flag.store(true, Ordering::SeqCst);
    }

    /// Stops the run if `error` concerns all of it (`GraphError::stops_run`); the rows
    /// stay pending and a later run resumes them once the wait is over or the credential
    /// is fixed. Returns whether it did.
    pub(crate) fn stop_if_run_wide(&self, error: &GraphError) -> bool {
        if !error.stops_run() {
            return false;
        }
        if error.is_sign_in() {
            self.sign_in_lost.store(true, Ordering::SeqCst);
        }
        self.stop(error.to_string());
        true
    }

    /// Raises the flag with no reason: a test halt (`testkit`), which parks every worker.
    #[cfg(feature = "testkit")]
    pub(crate) fn halt(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    /// Whether the flag is up with no reason (a test halt).
    #[cfg(feature = "testkit")]
    pub(crate) fn halted(&self) -> bool {
        self.flag.load(Ordering::SeqCst) && self.reason.lock().is_ok_and(|r| r.is_none())
    }

    /// Why the run stopped, if it did for a reason of its own (not an interrupt).
    pub(crate) fn reason(&self) -> Option<String> {
        self.reason.lock().ok().and_then(|r| r.clone())
    }

    /// Whether it stopped because the credential no longer signs in.
    pub(crate) fn sign_in_lost(&self) -> bool {
        self.sign_in_lost.load(Ordering::SeqCst)
    }

    /// Whether the caller interrupted it.
    pub(crate) fn interrupted(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_is_kept_and_a_passing_fault_stops_nothing() {
        let stop = RunStop::new(CancellationToken::new());
        let passing = GraphError::Api {
            status: 503,
            code: "ServiceUnavailable".into(),
            message: "busy".into(),
            request_id: None,
            client_request_id: "c".into(),
            retry_after: None,
            method: "GET".into(),
            path: "/users".into(),
        };
        assert!(!stop.stop_if_run_wide(&passing));
        assert!(!stop.stopping());
        stop.stop("invitations refused".into());
        stop.stop("later".into());
        assert!(stop.stopping());
        assert_eq!(stop.reason().as_deref(), Some("invitations refused"));
        assert!(!stop.sign_in_lost() && !stop.interrupted());
    }

    #[test]
    fn an_interrupt_stops_without_a_reason() {
        let cancel = CancellationToken::new();
        let stop = RunStop::new(cancel.clone());
        cancel.cancel();
        assert!(stop.stopping() && stop.interrupted());
        assert_eq!(stop.reason(), None);
    }
}
