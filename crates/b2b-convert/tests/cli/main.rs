//! The CLI's one integration-test binary: every test runs the real `b2b-convert` binary
//! against an emulator started in-process on 127.0.0.1:0, and checks what it printed
//! and what the tenant looks like afterwards.

// Fixture helpers outside #[test] functions aren't covered by allow-unwrap-in-tests; a
// failed fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod generated;
mod support;

mod apply;
mod demo;
mod faults;
mod formats;
mod input;
mod journal;
mod options;
mod plan;
mod preflight;
mod report;
mod revert;
mod select;
mod signin;
mod status;
