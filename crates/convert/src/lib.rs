//! The conversion domain of b2b-convert: what to convert, whether it may be converted,
//! and doing it without losing track of anyone.
//!
//! - [`input`] reads the CSV list of users and partner addresses;
//! - [`facts`] reads what the planner needs from Microsoft Graph;
//! - [`plan`] decides each row (pure: facts in, decisions out);
//! - [`journal`] records every run, row and step in SQLite, so a crash loses nothing;
//! - [`executor`] carries out the plan's actions through Graph, journaling each step;
//! - [`report`] renders a run as one self-contained HTML page.

pub mod clock;
pub mod email;
pub mod executor;
pub mod facts;
pub mod input;
pub mod journal;
pub mod plan;
pub mod report;
