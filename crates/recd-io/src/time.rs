//! Timestamps in and out of text: unix seconds, milliseconds, RFC 3339, calendar days.
//!
//! jiff does the calendar arithmetic and RFC 3339 parsing (well kept, pure Rust, and small with
//! default features off: no time zone database is needed because everything here is UTC).

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::Offset;
use recd_types::TimestampMs;

/// Unix seconds above this (year 5138) are almost surely milliseconds in the wrong column; the
/// domain's own limit (year 3000) would reject them anyway, with a less helpful message.
const SECONDS_THAT_LOOK_LIKE_MS: i64 = 100_000_000_000;

/// Parses unix SECONDS (an integer) or an RFC 3339 string into ms.
pub(crate) fn parse_seconds_or_rfc3339(text: &str) -> Result<TimestampMs, String> {
    let text = text.trim();
    if is_integer(text) {
        let seconds: i64 = text
            .parse()
            .map_err(|_| format!("{text:?} is out of range"))?;
        if seconds > SECONDS_THAT_LOOK_LIKE_MS {
            return Err(format!(
                "this column takes unix seconds, and {text} looks like milliseconds \
                 (a column whose name ends in `_ms` takes ms)"
            ));
        }
        return seconds
            .checked_mul(1000)
            .ok_or_else(|| format!("{text:?} seconds is out of range"));
    }
    parse_rfc3339(text)
}

/// Parses integer milliseconds.
pub(crate) fn parse_millis(text: &str) -> Result<TimestampMs, String> {
    let text = text.trim();
    if !is_integer(text) {
        return Err(format!("{text:?} is not an integer number of milliseconds"));
    }
    text.parse()
        .map_err(|_| format!("{text:?} is out of range"))
}

/// Parses an RFC 3339 timestamp (`2024-01-01T12:00:00Z`, `...+02:00`) into ms.
pub(crate) fn parse_rfc3339(text: &str) -> Result<TimestampMs, String> {
    let ts: Timestamp = text
        .parse()
        .map_err(|e| format!("{text:?} is neither unix seconds nor an RFC 3339 timestamp ({e})"))?;
    Ok(ts.as_millisecond())
}

/// Parses a time bound as the CLI takes it: RFC 3339, `YYYY-MM-DD` (UTC midnight), or integer ms.
pub fn parse_time_bound(text: &str) -> Result<TimestampMs, String> {
    let text = text.trim();
    if is_integer(text) {
        return parse_millis(text);
    }
    if let Ok(date) = text.parse::<Date>()
        && text.len() == 10
    {
        return date_to_ms(date).ok_or_else(|| format!("{text:?} is out of range"));
    }
    parse_rfc3339(text)
        .map_err(|_| format!("{text:?} is not RFC 3339, YYYY-MM-DD or integer milliseconds"))
}

/// Midnight UTC of a calendar day, in ms.
pub(crate) fn date_to_ms(date: Date) -> Option<TimestampMs> {
    let ts = Offset::UTC
        .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .ok()?;
    Some(ts.as_millisecond())
}

/// Midnight UTC of January 1st of `year`, in ms.
pub(crate) fn year_to_ms(year: i16) -> Option<TimestampMs> {
    date_to_ms(Date::new(year, 1, 1).ok()?)
}

/// The UTC calendar day of a timestamp, or `None` if jiff cannot represent it.
pub(crate) fn utc_day(ms: TimestampMs) -> Option<Date> {
    let ts = Timestamp::from_millisecond(ms).ok()?;
    Some(Offset::UTC.to_datetime(ts).date())
}

/// RFC 3339 text of a timestamp in UTC with milliseconds, for human output.
pub fn format_ms(ms: TimestampMs) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(ts) => format!("{ts:.3}"),
        Err(_) => format!("{ms}ms"),
    }
}

/// Parses a MovieLens 100K release date like `01-Jan-1995` into midnight UTC, in ms.
pub(crate) fn parse_ml100k_date(text: &str) -> Result<TimestampMs, String> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let bad = || format!("{text:?} is not a date like 01-Jan-1995");
    let mut parts = text.split('-');
    let (Some(day), Some(month), Some(year), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let day: i8 = day.parse().map_err(|_| bad())?;
    let month = MONTHS.iter().position(|m| *m == month).ok_or_else(bad)? as i8 + 1;
    let year: i16 = year.parse().map_err(|_| bad())?;
    let date = Date::new(year, month, day).map_err(|_| bad())?;
    date_to_ms(date).ok_or_else(bad)
}

fn is_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_rfc3339() {
        assert_eq!(parse_seconds_or_rfc3339("881250949"), Ok(881_250_949_000));
        assert_eq!(
            parse_seconds_or_rfc3339("2024-01-01T00:00:00Z"),
            Ok(1_704_067_200_000)
        );
        assert_eq!(
            parse_seconds_or_rfc3339("2024-01-01T02:00:00.5+02:00"),
            Ok(1_704_067_200_500)
        );
        assert!(parse_seconds_or_rfc3339("yesterday").is_err());
        assert!(parse_seconds_or_rfc3339("99999999999999999999").is_err());
        assert!(parse_seconds_or_rfc3339("9223372036854775807").is_err());
        let err = parse_seconds_or_rfc3339("1704067200000").unwrap_err();
        assert!(err.contains("looks like milliseconds"), "{err}");
    }

    #[test]
    fn millis_are_integers() {
        assert_eq!(parse_millis("1704067200000"), Ok(1_704_067_200_000));
        assert!(parse_millis("1.5").is_err());
        assert!(parse_millis("").is_err());
    }

    #[test]
    fn bounds_take_three_forms() {
        assert_eq!(parse_time_bound("2024-01-01"), Ok(1_704_067_200_000));
        assert_eq!(parse_time_bound("1704067200000"), Ok(1_704_067_200_000));
        assert_eq!(
            parse_time_bound("2024-01-01T00:00:01Z"),
            Ok(1_704_067_201_000)
        );
        assert!(parse_time_bound("2024-13-01").is_err());
        assert!(parse_time_bound("soon").is_err());
    }

    #[test]
    fn ml100k_dates() {
        assert_eq!(parse_ml100k_date("01-Jan-1995"), Ok(788_918_400_000));
        assert_eq!(parse_ml100k_date("27-Jun-1997"), Ok(867_369_600_000));
        assert!(parse_ml100k_date("31-Feb-1995").is_err());
        assert!(parse_ml100k_date("01-Foo-1995").is_err());
        assert!(parse_ml100k_date("1995").is_err());
        assert!(parse_ml100k_date("01-Jan-1995-x").is_err());
    }

    #[test]
    fn days_and_years() {
        assert_eq!(year_to_ms(1970), Some(0));
        let day = utc_day(1_704_067_199_999).unwrap();
        assert_eq!(day.to_string(), "2023-12-31");
        assert_eq!(
            utc_day(1_704_067_200_000).unwrap().to_string(),
            "2024-01-01"
        );
        assert_eq!(format_ms(1_704_067_200_500), "2024-01-01T00:00:00.500Z");
    }
}
