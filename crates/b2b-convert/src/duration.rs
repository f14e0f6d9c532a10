//! Ages on the command line: `7d`, `36h`, `90m`, `2w`.

use jiff::SignedDuration;

/// Parses a whole number followed by one unit: `w`, `d`, `h`, `m` or `s`.
pub fn parse_age(text: &str) -> Result<SignedDuration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` has no unit; write e.g. 7d, 36h or 90m"))?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number
        .parse()
        .map_err(|_| format!("`{text}` does not start with a whole number"))?;
    let seconds_per_unit = match unit {
        "w" => 7 * 86_400,
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        other => return Err(format!("`{other}` is not a unit; use w, d, h, m or s")),
    };
    number
        .checked_mul(seconds_per_unit)
        .map(SignedDuration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long a time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_age("7d"), Ok(SignedDuration::from_hours(168)));
        assert_eq!(parse_age("36h"), Ok(SignedDuration::from_hours(36)));
        assert_eq!(parse_age("2w"), Ok(SignedDuration::from_hours(336)));
        assert_eq!(parse_age("90m"), Ok(SignedDuration::from_mins(90)));
    }

    #[test]
    fn refuses_nonsense() {
        assert!(parse_age("7").is_err());
        assert!(parse_age("d").is_err());
        assert!(parse_age("7y").is_err());
        assert!(parse_age("99999999999999999w").is_err());
    }
}
