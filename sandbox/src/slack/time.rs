//! Slack's message timestamps: `"<unix seconds>.<6-digit micros>"`, unique per channel, used
//! as message ids and as the `oldest`/`latest` bounds of history queries.

/// Formats microseconds since the epoch as a Slack `ts`.
pub(crate) fn format(micros: i64) -> String {
    format!(
        "{}.{:06}",
        micros.div_euclid(1_000_000),
        micros.rem_euclid(1_000_000)
    )
}

/// Parses a `ts` (or a plain number of seconds, with up to six decimals) into microseconds.
pub(crate) fn parse(ts: &str) -> Option<i64> {
    let ts = ts.trim();
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 6 {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let micros: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").parse().ok()?
    };
    secs.checked_mul(1_000_000)?.checked_add(micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        assert_eq!(format(1_700_000_000_000_100), "1700000000.000100");
        assert_eq!(parse("1700000000.000100"), Some(1_700_000_000_000_100));
        assert_eq!(parse("1700000000.5"), Some(1_700_000_000_500_000));
        assert_eq!(parse("1700000000"), Some(1_700_000_000_000_000));
        for bad in ["", ".5", "17x", "1.1234567", "-1.0", "1.-2"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
