//! Mailchimp timestamps (ISO 8601, written `2020-09-13T12:26:40+00:00`) to and from epoch
//! seconds, for comparing `last_changed` values and writing `since_last_changed`.
//!
//! Hand-rolled (days-from-civil arithmetic): two conversions do not justify a date crate.

/// Formats seconds since the Unix epoch the way Mailchimp writes timestamps.
pub(crate) fn format(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+00:00",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]` (no zone means UTC) into epoch seconds.
pub(crate) fn parse(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.is_ascii() || text.len() < 19 {
        return None;
    }
    let (stamp, zone) = text.split_at(19);
    let b = stamp.as_bytes();
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(i, c)| b[i] != c) || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = &stamp[range];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let zone = match zone.strip_prefix('.') {
        Some(fraction) => {
            let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            &fraction[digits..]
        }
        None => zone,
    };
    let offset = match zone {
        "" | "Z" | "z" => 0,
        _ => {
            let (sign, hm) = match zone.split_at(1) {
                ("+", hm) => (1, hm),
                ("-", hm) => (-1, hm),
                _ => return None,
            };
            let (h, m) = hm.split_once(':')?;
            if h.len() != 2
                || m.len() != 2
                || !(h.bytes().chain(m.bytes())).all(|c| c.is_ascii_digit())
            {
                return None;
            }
            let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3_600 + m * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second - offset)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        assert_eq!(format(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(format(1_600_000_000), "2020-09-13T12:26:40+00:00");
        for secs in [0, 1_600_000_000, 951_782_400, 4_102_444_799] {
            assert_eq!(parse(&format(secs)), Some(secs), "{secs}");
        }
        assert_eq!(parse("2020-09-13T12:26:40Z"), Some(1_600_000_000));
        assert_eq!(parse("2020-09-13T14:26:40.123+02:00"), Some(1_600_000_000));
        assert_eq!(parse("2020-09-13 12:26:40"), Some(1_600_000_000));
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        for bad in [
            "",
            "2020-09-13",
            "2020-13-01T00:00:00Z",
            "2021-02-29T00:00:00Z",
            "2020-09-13T12:26:40 00:00",
            "2020-09-13T12:26:40+0000",
            "2020-09-13T12:26:40.Z",
            "2020-09-13T1é:26:40Z",
            "yesterday at noon, roughly",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
