//! Pacing to Graph's budgets, so the tool runs at Graph's ceiling without being
//! throttled: invitations (150 requests per 5 s per tenant), resource units (RU per
//! 10 s per app and tenant) and writes (3,000 per 150 s per app and tenant), graph-facts
//! §5. One [`Pacer`] per budget, shared by all clones of a client and so by every
//! worker.
//!
//! Each keeps a *sliding-window log*: the send instants and costs of recent requests.
//! A request may go when its cost still fits in the last `window`; otherwise it sleeps
//! until enough has left the window. This guarantees that **no** window of that
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
    limit: u64,
    window: Duration,
    sent: Mutex<Log>,
}

#[derive(Debug, Default)]
struct Log {
    entries: VecDeque<(Instant, u64)>,
    used: u64,
}

impl Pacer {
    /// `limit` requests per `window` (`limit` ≥ 1, checked by the caller).
    pub(crate) fn new(limit: u32, window: Duration) -> Self {
        Pacer {
            limit: u64::from(limit).max(1),
            window,
            sent: Mutex::new(Log::default()),
        }
    }

    /// Wait for one slot and record the send.
    pub(crate) async fn acquire(&self) {
        self.acquire_n(1).await;
    }

    /// Wait until `cost` fits and record it. Callers queue fairly on the tokio mutex,
    /// which is held across the sleep on purpose: the next caller could not go earlier
    /// anyway. A cost above the whole budget is charged as the whole budget.
    pub(crate) async fn acquire_n(&self, cost: u64) {
        if cost == 0 {
            return;
        }
        let cost = cost.min(self.limit);
        let mut log = self.sent.lock().await;
        loop {
            let now = Instant::now();
            while let Some(&(at, spent)) = log.entries.front() {
                if at + self.window > now {
                    break;
                }
                log.entries.pop_front();
                log.used -= spent;
            }
            if log.used + cost <= self.limit {
                log.entries.push_back((now, cost));
                log.used += cost;
                return;
            }
            // Sleep until enough has left the window for this cost to fit.
            let mut freed = 0;
            let mut until = now;
            for &(at, spent) in &log.entries {
                freed += spent;
                until = at + self.window;
                if log.used - freed + cost <= self.limit {
                    break;
                }
            }
            tokio::time::sleep_until(until).await;
        }
    }
}

/// The resource units Graph charges a request (graph-facts §5): a `GET` on users or on
/// `memberOf`/`transitiveMemberOf` 2, another `GET` 1, a write 1; `$select` −1,
/// `$expand` +1, `$top` below 20 −1; never below 1.
pub(crate) fn resource_units(method: &str, path: &str, query: Option<&str>) -> u64 {
    let path = path.to_ascii_lowercase();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut units: i64 = if method.eq_ignore_ascii_case("GET") {
        let on_users = segments.contains(&"users");
        let membership = segments
            .iter()
            .any(|s| *s == "memberof" || *s == "transitivememberof");
        if membership || (on_users && segments.len() <= 3) {
            2
        } else {
            1
        }
    } else {
        1
    };
    for pair in query.unwrap_or("").split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = key.replace("%24", "$").to_ascii_lowercase();
        match key.as_str() {
            "$select" => units -= 1,
            "$expand" => units += 1,
            "$top" if value.parse::<u32>().is_ok_and(|top| top < 20) => units -= 1,
            _ => {}
        }
    }
    units.max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn resource_units_follow_the_documented_costs() {
        assert_eq!(resource_units("GET", "/v1.0/users", None), 2);
        assert_eq!(
            resource_units("GET", "/v1.0/users/u1", Some("$select=id,mail")),
            1
        );
        assert_eq!(
            resource_units(
                "GET",
                "/v1.0/users/u1/transitiveMemberOf/microsoft.graph.directoryRole",
                Some("$count=true")
            ),
            2
        );
        assert_eq!(resource_units("GET", "/v1.0/domains", None), 1);
        assert_eq!(
            resource_units("GET", "/v1.0/groups", Some("%24select=id&%24top=10")),
            1
        );
        assert_eq!(resource_units("PATCH", "/v1.0/users/u1", None), 1);
        assert_eq!(
            resource_units("GET", "/v1.0/users", Some("$expand=manager")),
            3
        );
    }

    #[tokio::test(start_paused = true)]
    async fn weighted_costs_share_one_budget() {
        let pacer = Pacer::new(10, Duration::from_secs(10));
        let t0 = Instant::now();
        pacer.acquire_n(6).await;
        pacer.acquire_n(4).await;
        assert_eq!(t0.elapsed(), Duration::ZERO);
        pacer.acquire_n(5).await;
        assert_eq!(
            t0.elapsed(),
            Duration::from_secs(10),
            "waits for the first 6 to leave"
        );
        pacer.acquire_n(50).await;
        assert_eq!(
            t0.elapsed(),
            Duration::from_secs(20),
            "a cost above the budget takes it all"
        );
    }

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
