//! Hooks for the kill tests, compiled only with the `testkit` feature (enabled by the
//! test build of the binary, never by a release build): the executor can be parked at an
//! exact step so that a test can SIGKILL the process there and check that resuming
//! loses nothing and repeats nothing.
//!
//! `B2B_CONVERT_TEST_HALT_AT=POINT:N` parks every worker the `N`th (1-based) time any
//! step reaches `POINT` (`after-intent`, `after-response` or `after-outcome`).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::executor::HaltPoint;

/// The variable the kill tests set.
pub const HALT_ENV: &str = "B2B_CONVERT_TEST_HALT_AT";

/// Where to halt: the `nth` time any step reaches `point`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HaltAt {
    /// Where.
    pub point: HaltPoint,
    /// The how-manieth time.
    pub nth: u64,
}

impl std::str::FromStr for HaltAt {
    type Err = String;

    /// `after-intent:N`, `after-response:N` or `after-outcome:N`.
    fn from_str(text: &str) -> Result<Self, String> {
        let (point, nth) = text
            .split_once(':')
            .ok_or_else(|| format!("`{text}`: expected POINT:N"))?;
        let point = match point {
            "after-intent" => HaltPoint::AfterIntent,
            "after-response" => HaltPoint::AfterResponse,
            "after-outcome" => HaltPoint::AfterOutcome,
            other => {
                return Err(format!(
                    "`{other}`: expected after-intent, after-response or after-outcome"
                ));
            }
        };
        let nth = nth
            .parse()
            .map_err(|_| format!("`{nth}` is not a number"))?;
        Ok(HaltAt { point, nth })
    }
}

/// The halt asked for by the environment, counting the points reached.
#[derive(Debug, Default)]
pub struct Halt {
    at: Option<HaltAt>,
    counters: [AtomicU64; 3],
}

impl Halt {
    /// Reads [`HALT_ENV`]; a value that does not parse is reported and ignored, so a
    /// typo in a test shows up as a test that never halts.
    pub fn from_env() -> Halt {
        let at = std::env::var(HALT_ENV)
            .ok()
            .and_then(|text| match text.parse() {
                Ok(at) => Some(at),
                Err(problem) => {
                    eprintln!("b2b-convert: ignoring {HALT_ENV}: {problem}");
                    None
                }
            });
        Halt {
            at,
            ..Halt::default()
        }
    }

    /// Counts one arrival at `point`; true when it is the one to halt at.
    pub fn reached(&self, point: HaltPoint) -> bool {
        let Some(at) = self.at else {
            return false;
        };
        let count = self.counters[point as usize].fetch_add(1, Ordering::SeqCst) + 1;
        at.point == point && count == at.nth
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halt_points_parse() {
        assert_eq!(
            "after-response:7".parse::<HaltAt>(),
            Ok(HaltAt {
                point: HaltPoint::AfterResponse,
                nth: 7
            })
        );
        assert!("later:1".parse::<HaltAt>().is_err());
        assert!("after-intent:x".parse::<HaltAt>().is_err());
    }

    #[test]
    fn halts_only_at_the_nth_arrival_of_its_point() {
        let halt = Halt {
            at: Some(HaltAt {
                point: HaltPoint::AfterIntent,
                nth: 2,
            }),
            ..Halt::default()
        };
        assert!(!halt.reached(HaltPoint::AfterIntent));
        assert!(!halt.reached(HaltPoint::AfterOutcome));
        assert!(halt.reached(HaltPoint::AfterIntent));
        assert!(!halt.reached(HaltPoint::AfterIntent));
    }
}
