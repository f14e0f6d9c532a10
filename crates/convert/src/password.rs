//! The random passwords b2b-convert sets (`apply --scramble-password`, and `revert`, where
//! Graph requires one for a cloud user): never printed, logged or journaled — the admin
//! hands a person a password through a reset in the admin center.

use secrecy::SecretString;

/// 256 bits from the operating system's generator (two v4 UUIDs), spelled so that
/// Entra's complexity rule (three of upper case, lower case, digits and symbols) always
/// holds.
pub(crate) fn random_password() -> SecretString {
    let (a, b) = (uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    SecretString::from(format!("Xq7!{a}{b}"))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn each_password_is_new_and_meets_the_complexity_rule() {
        let (a, b) = (random_password(), random_password());
        assert_ne!(a.expose_secret(), b.expose_secret());
        let p = a.expose_secret();
        assert!(p.len() >= 64);
        assert!(p.chars().any(|c| c.is_ascii_uppercase()));
        assert!(p.chars().any(|c| c.is_ascii_lowercase()));
        assert!(p.chars().any(|c| c.is_ascii_digit()));
        assert!(p.contains('!'));
    }
}
