//! The CSV input parser on arbitrary bytes: it never panics, every row it accepts
//! keeps the per-cell limits and lies on a later line than the one before, and every
//! error it gives is one short line (values are quoted at most 80 characters long).
#![no_main]

use std::path::Path;

use b2b_convert_core::input::{MAX_EMAIL_CHARS, MAX_MESSAGE_CHARS, MAX_USER_CHARS, parse_input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    match parse_input(Path::new("fuzz.csv"), bytes) {
        Ok(input) => {
            assert_eq!(input.sha256.len(), 64);
            let mut previous = 1;
            for row in &input.rows {
                assert!(row.line > previous, "lines go forward: {row:?}");
                previous = row.line;
                assert!(!row.user.is_empty() && row.user.chars().count() <= MAX_USER_CHARS);
                assert!(row.external_email.chars().count() <= MAX_EMAIL_CHARS);
                assert!(
                    row.message
                        .as_ref()
                        .is_none_or(|m| m.chars().count() <= MAX_MESSAGE_CHARS)
                );
            }
        }
        Err(error) => {
            let message = error.to_string();
            assert!(message.len() < 2048, "a short error: {message}");
            assert!(!message.contains('\n'), "one line: {message}");
        }
    }
});
