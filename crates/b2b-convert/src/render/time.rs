//! Times and ages as people read them: to the second, in this machine's time zone, and
//! ages in the largest unit that fits ("3 days", "5 h", "12 min"). Machine formats (CSV,
//! JSON) keep UTC.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// `2026-12-02 09:14:05` in the local time zone.
pub fn local(t: Timestamp) -> String {
    TimeZone::system()
        .to_datetime(t)
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// `2026-12-02T08:14:05Z`: UTC to the second, for CSV.
pub fn utc(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// An age given in days, in words.
pub fn age(days: f64) -> String {
    let minutes = (days * 24.0 * 60.0).round();
    if minutes < 1.0 {
        "less than a minute".to_owned()
    } else if minutes < 60.0 {
        format!("{minutes:.0} min")
    } else if minutes < 48.0 * 60.0 {
        format!("{:.0} h", minutes / 60.0)
    } else {
        format!("{:.0} days", days.floor())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_people_say_them() {
        assert_eq!(age(0.0), "less than a minute");
        assert_eq!(age(12.0 / 1440.0), "12 min");
        assert_eq!(age(5.0 / 24.0), "5 h");
        assert_eq!(age(1.5), "36 h");
        assert_eq!(age(7.9), "7 days");
    }

    #[test]
    fn utc_is_to_the_second() {
        let t: Timestamp = "2026-12-02T08:14:05.123456789Z".parse().unwrap();
        assert_eq!(utc(t), "2026-12-02T08:14:05Z");
        assert_eq!(local(t).len(), "2026-12-02 09:14:05".len());
    }
}
