//! Integration tests for `b2b_graph` against wiremock on 127.0.0.1.
//!
//! One test binary (see the crate's `[[test]]` entry); modules by topic.

// Fixtures and responders outside `#[test]` functions also panic on purpose:
// a broken fixture should fail the test loudly (clippy's allow-unwrap-in-tests
// only covers the test functions themselves).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod batch;
mod errors;
mod invitations;
mod paging;
mod retry;
mod support;
