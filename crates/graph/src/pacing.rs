//! Tenant-wide pacing of invitation requests.
//!
//! Graph allows 150 requests per 5 seconds on `/invitations` for the whole
//! tenant (graph-facts §5). We keep a *sliding-window log*: the send instants
//! of the last `limit` requests. A request may go when fewer than `limit`
//! requests were sent in the last `window`; otherwise it sleeps until the
//! oldest one leaves the window. This guarantees that **no** window of that
//! length ever holds more than `limit` requests, which a GCRA with burst
//! `limit` does not (a full burst right after a refill can put up to about
//! `2 * limit` requests into one sliding window). It also uses tokio's clock,
//! so paused-time tests are exact (governor uses its own clock).

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Sliding-window-log limiter shared by all clones of a client.
#[derive(Debug)]
pub(crate) struct Pacer {
    limit: usize,
    window: Duration,
    sent: Mutex<VecDeque<Instant>>,
}

impl Pacer {
    /// `limit` requests per `window` (`limit` ≥ 1, checked by the caller).
    pub(crate) fn new(limit: u32, window: Duration) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX).max(1);
        Pacer {
            limit,
            window,
            sent: Mutex::new(VecDeque::with_capacity(limit.min(1024))),
        }
    }

    /// Wait for a slot and record the send. Callers queue fairly on the
    /// tokio mutex, which is held across the sleep on purpose: the next
    /// caller could not go earlier anyway.
    pub(crate) async fn acquire(&self) {
        let mut sent = self.sent.lock().await;
        loop {
            let now = Instant::now();
            while sent.front().is_some_and(|t| *t + self.window <= now) {
                sent.pop_front();
            }
            if sent.len() < self.limit {
                sent.push_back(now);
                return;
            }
            if let Some(oldest) = sent.front().copied() {
                tokio::time::sleep_until(oldest + self.window).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn never_more_than_limit_in_any_window() {
        let pacer = Arc::new(Pacer::new(3, Duration::from_secs(5)));
        let t0 = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..10 {
            let p = Arc::clone(&pacer);
            handles.push(tokio::spawn(async move {
                p.acquire().await;
                Instant::now() - t0
            }));
        }
        let mut times = Vec::new();
        for h in handles {
            times.push(h.await.unwrap());
        }
        times.sort();
        let secs: Vec<u64> = times.iter().map(|d| d.as_secs()).collect();
        assert_eq!(secs, vec![0, 0, 0, 5, 5, 5, 10, 10, 10, 15]);
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .filter(|u| **u < *t + Duration::from_secs(5))
                .count();
            assert!(in_window <= 3, "window starting at {t:?} holds {in_window}");
        }
    }
}
