//! How results look: the tables, JSON and CSV that several commands print. Commands
//! never import each other; what two of them show alike lives here.

pub mod plan;
pub mod results;
pub mod selection;
pub mod status;
pub mod time;
