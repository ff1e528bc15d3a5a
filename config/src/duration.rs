//! Duration strings as the Gateway API writes them (GEP-2257): one to four
//! `<number><unit>` parts, units `h`, `m`, `s`, `ms`, each number at most five
//! digits: `250ms`, `5s`, `1m`, `1h30m`, `0s`.

use std::time::Duration;
use thiserror::Error;

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DurationError {
    #[error("must not be empty")]
    Empty,
    #[error("`{0}` is not a duration: expected parts like 250ms, 5s, 1m or 1h30m")]
    Syntax(String),
    #[error("`{0}` has more than 4 parts")]
    TooManyParts(String),
    #[error("`{0}` has a number of more than 5 digits")]
    NumberTooLong(String),
}

/// Parses a GEP-2257 duration string.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    let bytes = s.as_bytes();
    let mut total = Duration::ZERO;
    let mut i = 0;
    let mut parts = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i];
        if digits.is_empty() {
            return Err(DurationError::Syntax(s.to_owned()));
        }
        if digits.len() > 5 {
            return Err(DurationError::NumberTooLong(s.to_owned()));
        }
        // At most five digits: always fits in a u64.
        let n: u64 = digits
            .parse()
            .map_err(|_| DurationError::Syntax(s.to_owned()))?;
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let part = match &s[unit_start..i] {
            "h" => Duration::from_secs(n * 3600),
            "m" => Duration::from_secs(n * 60),
            "s" => Duration::from_secs(n),
            "ms" => Duration::from_millis(n),
            _ => return Err(DurationError::Syntax(s.to_owned())),
        };
        parts += 1;
        if parts > 4 {
            return Err(DurationError::TooManyParts(s.to_owned()));
        }
        total += part;
    }
    Ok(total)
}

/// Formats a duration in the shortest GEP-2257 form (`1h30m`, `250ms`,
/// `0s`); `parse_duration(&format_duration(d)) == d` for every duration with
/// whole milliseconds below 100,000 hours.
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, len) in [("h", 3_600_000u128), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        let n = ms / len;
        if n > 0 {
            out.push_str(&n.to_string());
            out.push_str(unit);
            ms %= len;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_gateway_api_examples() {
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(
            parse_duration("1h1m1s1ms"),
            Ok(Duration::from_millis(3_661_001))
        );
    }

    #[test]
    fn refuses_bad_strings() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        for bad in [
            "5", "s", "1.5s", "-1s", "5 s", "5S", "1d", "1us", "ms5", "1h ",
        ] {
            assert!(
                matches!(parse_duration(bad), Err(DurationError::Syntax(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_duration("123456s"),
            Err(DurationError::NumberTooLong(_))
        ));
        assert!(matches!(
            parse_duration("1h1m1s1ms1ms"),
            Err(DurationError::TooManyParts(_))
        ));
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(ms in 0u64..(99_999u64 * 3_600_000)) {
            let d = Duration::from_millis(ms);
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }

        #[test]
        fn never_panics(s in "\\PC{0,20}") {
            let _ = parse_duration(&s);
        }
    }
}
