//! Retry policy: which failures are retried and how long to wait.
//!
//! The delay is a pure function of the attempt number, the server's
//! `Retry-After` and a seed, so it can be tested exactly (graph-facts §5:
//! honour `Retry-After`, parsed as fractional seconds; otherwise exponential
//! backoff with full jitter).

use std::time::Duration;

/// How often and how long to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts including the first one (1 = never retry).
    pub max_attempts: u32,
    /// Total attempts when Graph keeps answering 429: throttling is pacing, not
    /// failure, so it gets a larger budget (still bounded by `max_total_delay`).
    pub max_throttled_attempts: u32,
    /// Backoff base: the jitter ceiling of the first retry.
    pub base_delay: Duration,
    /// Upper bound of the backoff ceiling (not applied to `Retry-After`).
    pub max_delay: Duration,
    /// Give up once the sum of all waits for one call would exceed this.
    pub max_total_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            max_throttled_attempts: 40,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_total_delay: Duration::from_secs(180),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            max_throttled_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Delay before attempt `attempt + 1`, after `attempt` (1-based) failed.
    ///
    /// With a `Retry-After` the server's value is used as is (waiting less
    /// would be counted against us again). Without it: full jitter, a uniform
    /// value in `[0, min(max_delay, base_delay * 2^(attempt-1))]` drawn from
    /// `seed`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>, seed: u64) -> Duration {
        if let Some(ra) = retry_after {
            return ra;
        }
        let ceiling = self.backoff_ceiling(attempt);
        let fraction = unit_interval(mix(seed, u64::from(attempt)));
        ceiling.mul_f64(fraction)
    }

    /// `min(max_delay, base_delay * 2^(attempt-1))`.
    pub fn backoff_ceiling(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(31);
        let factor = 1u32 << exp;
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

/// The jitter seed the client uses for its `call`-th logical request (0-based)
/// when built with `ClientOptions::seed = Some(seed)`; lets tests compute the
/// exact backoff with [`RetryPolicy::delay`].
pub fn jitter_seed(seed: u64, call: u64) -> u64 {
    mix(seed, call.wrapping_add(0x5EED))
}

/// SplitMix64 finaliser over seed and attempt: cheap, well-distributed and
/// deterministic, which is all jitter needs (no crypto, no extra crate).
pub(crate) fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Map a `u64` to `[0, 1)` using its top 53 bits.
fn unit_interval(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Parse a `Retry-After` value: delta seconds, possibly fractional (Graph
/// sends `2.128`), or an HTTP-date relative to `now`. Past dates give zero.
/// Returns `None` for anything unparseable, negative or absurd (> 1 day).
pub fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let secs: f64 = v.parse().ok()?;
        if !secs.is_finite() || !(0.0..=86_400.0).contains(&secs) {
            return None;
        }
        return Some(Duration::from_secs_f64(secs));
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(v)
        .ok()?;
    let span = at.as_duration().checked_sub(now.as_duration())?;
    if span.is_negative() {
        return Some(Duration::ZERO);
    }
    let d = Duration::try_from(span).ok()?;
    (d <= Duration::from_secs(86_400)).then_some(d)
}

/// How a request may be retried after failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// Safe to repeat (GET, PATCH with the same body, revokeSignInSessions):
    /// retried on 429, 500, 502, 503, 504 and any transport error — Graph's faults
    /// are weather, and repeating such a request changes nothing.
    Idempotent,
    /// Not safe to repeat blindly (POST /invitations): retried only on 429
    /// and on transport errors where the request certainly was not sent. Any other
    /// failure leaves the outcome unknown; the caller settles it by reading back.
    NotIdempotent,
}

/// What went wrong on one attempt, for [`should_retry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// An HTTP status was received.
    Status(u16),
    /// No response; `sent` says whether the request may have reached Graph.
    Transport { sent: bool },
}

/// The server errors Graph answers now and then and that go away by themselves
/// (graph-facts §4 lists 500, 503 and 504; gateways in front of Graph add 502).
pub(crate) fn is_transient_status(status: u16) -> bool {
    matches!(status, 500 | 502 | 503 | 504)
}

/// Whether a failure is worth another attempt under the given idempotency.
pub(crate) fn should_retry(failure: Failure, idempotency: Idempotency) -> bool {
    match (failure, idempotency) {
        (Failure::Status(429), _) => true,
        (Failure::Status(status), Idempotency::Idempotent) => is_transient_status(status),
        (Failure::Transport { .. }, Idempotency::Idempotent) => true,
        (Failure::Transport { sent }, Idempotency::NotIdempotent) => !sent,
        (Failure::Status(_), Idempotency::NotIdempotent) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn now() -> jiff::Timestamp {
        "2024-05-01T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn retry_after_fractional_integer_and_date() {
        assert_eq!(
            parse_retry_after("2.128", now()),
            Some(Duration::from_millis(2128))
        );
        assert_eq!(
            parse_retry_after(" 5 ", now()),
            Some(Duration::from_secs(5))
        );
        assert_eq!(parse_retry_after("0", now()), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 01 May 2024 10:00:07 GMT", now()),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Wed, 01 May 2024 09:59:00 GMT", now()),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now()), None);
        assert_eq!(parse_retry_after("-3", now()), None);
        assert_eq!(parse_retry_after("1.2.3", now()), None);
        assert_eq!(parse_retry_after("999999", now()), None);
        assert_eq!(parse_retry_after("", now()), None);
    }

    #[test]
    fn backoff_ceiling_doubles_and_caps() {
        let p = RetryPolicy {
            max_attempts: 10,
            max_throttled_attempts: 10,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(4),
            max_total_delay: Duration::from_secs(60),
        };
        let got: Vec<u128> = (1..=6).map(|a| p.backoff_ceiling(a).as_millis()).collect();
        assert_eq!(got, vec![500, 1000, 2000, 4000, 4000, 4000]);
        assert_eq!(p.backoff_ceiling(200), Duration::from_secs(4));
    }

    #[test]
    fn delay_is_deterministic_for_a_seed() {
        let p = RetryPolicy::default();
        let a = p.delay(3, None, 42);
        assert_eq!(a, p.delay(3, None, 42));
        assert!(a <= Duration::from_secs(2));
        // Different seeds give different jitter.
        assert_ne!(p.delay(3, None, 42), p.delay(3, None, 43));
        // Retry-After wins over backoff, even above max_delay.
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(45)), 42),
            Duration::from_secs(45)
        );
    }

    #[test]
    fn retry_classification() {
        use Failure::*;
        use Idempotency::*;
        assert!(should_retry(Status(429), NotIdempotent));
        assert!(should_retry(Status(503), Idempotent));
        assert!(should_retry(Status(504), Idempotent));
        assert!(!should_retry(Status(503), NotIdempotent));
        assert!(should_retry(Status(500), Idempotent));
        assert!(should_retry(Status(502), Idempotent));
        assert!(!should_retry(Status(500), NotIdempotent));
        assert!(!should_retry(Status(502), NotIdempotent));
        assert!(!should_retry(Status(413), Idempotent));
        assert!(should_retry(Transport { sent: true }, Idempotent));
        assert!(!should_retry(Transport { sent: true }, NotIdempotent));
        assert!(should_retry(Transport { sent: false }, NotIdempotent));
        assert!(!should_retry(Status(400), Idempotent));
    }

    proptest! {
        #[test]
        fn jitter_stays_within_ceiling(attempt in 1u32..40, seed in any::<u64>()) {
            let p = RetryPolicy::default();
            let d = p.delay(attempt, None, seed);
            prop_assert!(d <= p.backoff_ceiling(attempt));
            prop_assert!(p.backoff_ceiling(attempt) <= p.max_delay);
        }

        #[test]
        fn fractional_seconds_parse(ms in 0u64..100_000) {
            let s = format!("{}.{:03}", ms / 1000, ms % 1000);
            prop_assert_eq!(parse_retry_after(&s, now()), Some(Duration::from_millis(ms)));
        }
    }
}
