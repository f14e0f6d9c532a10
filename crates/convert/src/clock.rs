//! Time as a parameter: the journal, status and reinvite ask a [`Clock`], so tests can
//! fix it. There is one clock type in the workspace, `b2b_graph::clock`; this module
//! re-exports it so that the core's callers need not depend on the Graph client.

pub use b2b_graph::clock::{Clock, FixedClock, SharedClock, SystemClock, system};
