//! The client's OData string literal against the emulator's `$filter` parser: for any
//! text, `mail eq {odata_string(text)}` must read back as exactly that text, so no
//! value (quotes, spaces, `or`, parentheses, non-ASCII) can change what a filter asks.
#![no_main]

use graph_emulator::query::{Expr, Lit, Op, parse_filter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|value: &str| {
    let filter = format!("mail eq {}", b2b_graph::odata_string(value));
    match parse_filter(&filter) {
        Ok(Expr::Compare {
            path,
            op: Op::Eq,
            value: Lit::Str(read),
        }) if path == ["mail"] => assert_eq!(read, value, "{filter}"),
        other => panic!("{filter} parsed as {other:?}"),
    }
});
