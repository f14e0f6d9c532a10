//! The conversion domain of b2b-convert: what to convert, whether it may be converted,
//! and doing it without losing track of anyone.
//!
//! - [`input`] reads the CSV list of users and partner addresses, which [`selection`]
//!   can write from the tenant itself (a `$filter` or a group, and an address rule);
//! - [`facts`] reads what the planner needs from Microsoft Graph, per row or, through
//!   [`snapshot`], the whole tenant at once, or through [`lookup`], per row in batches;
//! - [`plan`] decides each row (pure: facts in, decisions out);
//! - [`preflight`] holds the pre-flight's rules (invitation policies, partner tenants,
//!   predicted redemption; pure), whose facts [`policy_reads`] reads once per run;
//! - [`journal`] records every run, row and step in SQLite, so a crash loses nothing;
//! - [`resumption`] decides whether `apply` resumes a run or starts one;
//! - [`permissions`] says which Graph permission each step needs and whether the
//!   signed-in credential holds it;
//! - [`executor`] carries out the plan's actions through Graph, journaling each step;
//! - [`status`] joins a run with its invitations and refreshes their states;
//! - [`reinvite`] picks who is due for a fresh invitation and sends it;
//! - [`revert`] converts users turned B2B by mistake back into internal members (Graph's
//!   beta `convertExternalToInternalMemberUser`), planned, confirmed and journaled;
//! - [`report`] renders a run as one self-contained HTML page;
//! - [`vocabulary`] holds the words they all share (run status, outcome, invitation
//!   state), and [`clock`] the one source of time.

pub mod clock;
pub mod email;
pub mod executor;
pub mod facts;
pub mod input;
pub mod journal;
pub mod lookup;
mod password;
pub mod permissions;
pub mod plan;
pub mod policy_reads;
pub mod preflight;
pub mod reinvite;
pub mod report;
pub mod resumption;
pub mod revert;
pub mod selection;
pub mod snapshot;
pub mod status;
mod stop;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod vocabulary;
