//! An offline Microsoft Graph tenant (the "emulator"): work in progress, see the modules.

pub mod application;
pub mod error;
pub mod principal;
pub mod gate;
pub mod simulation;
pub mod throttle;
pub mod tls;
pub mod token;
