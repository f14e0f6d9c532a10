//! The request log of `/v1.0` traffic, bounded so a long run can't exhaust memory.
//!
//! Tests count what the tool sent (one invitation per user, no write to an ineligible
//! user), so the log keeps whole entries; but a benchmark or a soak run sends hundreds of
//! thousands of requests, and an unbounded `Vec` grew by ~2.5 KB per request. So:
//! - **a ring of the last N entries** ([`RequestLog::capacity`], default
//!   [`DEFAULT_CAPACITY`] = 50,000, set by the tenant file's `simulation.requestLog` or
//!   `--request-log`): the CLI's tests count invitations in runs of up to ~10,000 requests,
//!   so the default keeps every entry of every test; older entries are dropped first;
//! - **a total counter** and the number dropped, so a reader knows when the ring is not the
//!   whole story (`requestCount`, `requestsDropped` in the state document);
//! - **per-(method, route template, status) counters** that never drop anything, e.g.
//!   `POST /v1.0/invitations 201`, for assertions on long runs. The route template is the
//!   matched axum route (`/v1.0/users/{id}`); a request no route matched counts under
//!   `(unmatched)` and an unusual method under `OTHER`, so a caller can't grow the counter
//!   table without bound.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

/// How many entries the ring keeps unless told otherwise.
pub const DEFAULT_CAPACITY: usize = 50_000;

/// The template counted for a request that matched no route.
pub const UNMATCHED: &str = "(unmatched)";

/// One logged `/v1.0` request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// 1-based sequence number (over the emulator's life, dropped entries included).
    pub seq: u64,
    /// HTTP method.
    pub method: String,
    /// Path, always with `/v1.0`.
    pub path: String,
    /// Raw query string.
    pub query: Option<String>,
    /// Response status.
    pub status: u16,
    /// The calling application, when its token was valid.
    pub app_id: Option<String>,
    /// The permission that authorised the request.
    pub permission: Option<String>,
    /// The user the request was about, if any.
    pub user_id: Option<String>,
    /// The `request-id` sent back.
    pub request_id: Option<String>,
    /// Whether it was an item of a `$batch`.
    pub batch: bool,
    /// When it arrived.
    pub time: String,
}

/// One counter of the state document's `requestCounts`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Counter<'a> {
    /// HTTP method (`OTHER` for non-standard ones).
    pub method: &'a str,
    /// Route template, e.g. `/v1.0/users/{id}`, or `(unmatched)`.
    pub path: &'a str,
    /// Response status.
    pub status: u16,
    /// How many such requests.
    pub count: u64,
}

/// The ring, the total and the counters.
#[derive(Debug)]
pub struct RequestLog {
    capacity: usize,
    entries: VecDeque<LogEntry>,
    total: u64,
    counters: BTreeMap<(String, String, u16), u64>,
}

impl RequestLog {
    /// An empty log keeping at most `capacity` entries (0 keeps only the counters).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            // Grows on demand: a small test should not reserve room for 50,000 entries.
            entries: VecDeque::new(),
            total: 0,
            counters: BTreeMap::new(),
        }
    }

    /// Records a request: `entry.seq` is set here; `template` is the matched route.
    pub fn push(&mut self, mut entry: LogEntry, template: Option<&str>) {
        self.total += 1;
        entry.seq = self.total;
        let method = counted_method(&entry.method);
        let key = (
            method.to_owned(),
            template.unwrap_or(UNMATCHED).to_owned(),
            entry.status,
        );
        *self.counters.entry(key).or_insert(0) += 1;
        if self.capacity == 0 {
            return;
        }
        while self.entries.len() >= self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    /// Forgets everything (`POST /_emulator/reset`).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.total = 0;
        self.counters.clear();
    }

    /// The retained entries, oldest first.
    pub fn entries(&self) -> &VecDeque<LogEntry> {
        &self.entries
    }

    /// How many entries the ring keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Every request logged since the start or the last reset.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Requests no longer in the ring.
    pub fn dropped(&self) -> u64 {
        self.total - self.entries.len() as u64
    }

    /// The counters, ordered by method, template and status.
    pub fn counters(&self) -> impl Iterator<Item = Counter<'_>> {
        self.counters
            .iter()
            .map(|((method, path, status), count)| Counter {
                method,
                path,
                status: *status,
                count: *count,
            })
    }
}

/// The method as counted: the standard ones as they are, anything else as `OTHER`.
fn counted_method(method: &str) -> &str {
    const STANDARD: &[&str] = &[
        "GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT",
    ];
    STANDARD
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("OTHER")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(method: &str, status: u16) -> LogEntry {
        LogEntry {
            seq: 0,
            method: method.to_owned(),
            path: "/v1.0/users".to_owned(),
            query: None,
            status,
            app_id: None,
            permission: None,
            user_id: None,
            request_id: None,
            batch: false,
            time: String::new(),
        }
    }

    #[test]
    fn keeps_the_last_n_and_counts_everything() {
        let mut log = RequestLog::new(3);
        for i in 0..5 {
            log.push(entry("GET", 200 + i), Some("/v1.0/users"));
        }
        log.push(entry("BREW", 400), None);
        assert_eq!(log.total(), 6);
        assert_eq!(log.dropped(), 3);
        let seqs: Vec<u64> = log.entries().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![4, 5, 6]);
        let counters: Vec<Counter<'_>> = log.counters().collect();
        assert_eq!(counters.len(), 6);
        assert_eq!(
            counters.last(),
            Some(&Counter {
                method: "OTHER",
                path: UNMATCHED,
                status: 400,
                count: 1
            })
        );
        log.clear();
        assert_eq!((log.total(), log.entries().len()), (0, 0));
        assert_eq!(log.counters().count(), 0);
    }

    #[test]
    fn capacity_zero_keeps_only_counters() {
        let mut log = RequestLog::new(0);
        log.push(entry("GET", 200), Some("/v1.0/users"));
        log.push(entry("GET", 200), Some("/v1.0/users"));
        assert!(log.entries().is_empty());
        assert_eq!(log.dropped(), 2);
        assert_eq!(log.counters().next().map(|c| c.count), Some(2));
    }
}
