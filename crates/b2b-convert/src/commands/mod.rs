//! One module per command. Each parses its arguments, calls the core and renders; no
//! command imports another (what two share lives in the core or in `crate::render`).

pub mod apply;
pub mod completions;
pub mod demo;
pub mod emulator;
pub mod plan;
pub mod reinvite;
pub mod report;
pub mod revert;
pub mod status;
