//! The emulator's one source of wall-clock time. The emulator deliberately shares no code
//! with the client crates, so it keeps its own clock instead of borrowing theirs; routing
//! every reading through here keeps the places that depend on "now" easy to find.

/// The current time.
pub(crate) fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// The current time in Unix seconds, as JWT claims carry it.
pub(crate) fn now_seconds() -> i64 {
    now().as_second()
}
