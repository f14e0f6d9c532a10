//! The client's OData string literal read back by the emulator's `$filter` parser: for
//! any text, `mail eq {odata_string(text)}` asks for exactly that text, so no address
//! (quotes, spaces, `or`, parentheses, non-ASCII) can change what a filter asks. The
//! fuzz target `odata_literal` runs the same property for longer.

use b2b_graph::odata_string;
use graph_emulator::query::{Expr, Lit, Op, parse_filter};
use proptest::prelude::*;

proptest! {
    #[test]
    fn a_literal_reads_back_as_written(value in "\\PC{0,40}") {
        let filter = format!("mail eq {}", odata_string(&value));
        match parse_filter(&filter) {
            Ok(Expr::Compare { path, op: Op::Eq, value: Lit::Str(read) }) if path == ["mail"] => {
                prop_assert_eq!(read, value);
            }
            other => prop_assert!(false, "{} parsed as {:?}", filter, other),
        }
    }
}
