//! The emulator's one integration-test binary: every test sends raw HTTP to an emulator
//! started in-process on 127.0.0.1:0 and asserts Graph's status, error code and the
//! resulting tenant state. (Each file directly under tests/ would be a binary of its own.)

mod conversion;
mod directory;
mod external;
mod gate;
mod limits;
mod preflight;
mod resilience;
mod signin;
mod support;
