//! The address validator on arbitrary text: it never panics, an address it accepts has
//! the shape Graph needs (ASCII, one `@`, RFC 5321 lengths, a dotted host name), and a
//! refusal is a short sentence.
#![no_main]

use b2b_convert_core::email::check_address;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|address: &str| {
    match check_address(address) {
        Ok(()) => {
            assert!(address.is_ascii());
            let (local, domain) = address
                .rsplit_once('@')
                .expect("an accepted address has an @");
            assert!(!local.is_empty() && local.len() <= 64 && !local.contains('@'));
            assert!(domain.contains('.') && domain.len() <= 253);
        }
        Err(message) => assert!(message.len() < 300, "a short refusal: {message}"),
    }
});
