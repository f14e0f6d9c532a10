//! The core's one integration-test binary: fact gathering, the executor, status and
//! resumption driven against the real emulator, in-process on 127.0.0.1:0, without the
//! command-line layer in between.

// A failed fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod executor;
mod facts;
mod odata;
mod planning;
