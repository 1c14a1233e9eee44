//! ActiveCampaign's timestamps: ISO 8601 in the account's time zone (`2020-09-13T07:26:40-05:00`)
//! and the plain `2020-09-13 07:26:40` form of the `*_timestamp` fields.
//!
//! Written out by hand (civil-date arithmetic from Howard Hinnant's algorithms) so the sandbox
//! needs no date crate; only the forms ActiveCampaign emits and its filters accept are handled.

/// The sandbox account's time zone: US Central daylight time, as many AC accounts use.
pub(crate) const ACCOUNT_OFFSET_SECS: i64 = -5 * 3_600;

/// `2020-09-13T07:26:40-05:00`: the account-local time with its offset.
pub(crate) fn iso(epoch: i64) -> String {
    let (date, time) = local(epoch);
    let sign = if ACCOUNT_OFFSET_SECS < 0 { '-' } else { '+' };
    let offset = ACCOUNT_OFFSET_SECS.abs();
    format!(
        "{date}T{time}{sign}{:02}:{:02}",
        offset / 3_600,
        offset % 3_600 / 60
    )
}

/// `2020-09-13 07:26:40`: account-local, no offset (the `*_timestamp` fields).
pub(crate) fn plain(epoch: i64) -> String {
    let (date, time) = local(epoch);
    format!("{date} {time}")
}

fn local(epoch: i64) -> (String, String) {
    let local = epoch.saturating_add(ACCOUNT_OFFSET_SECS);
    let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!(
            "{:02}:{:02}:{:02}",
            secs / 3_600,
            secs % 3_600 / 60,
            secs % 60
        ),
    )
}

/// Parses `YYYY-MM-DD`, optionally followed by `T` or a space, `HH:MM[:SS]`, and `Z` or
/// `±HH:MM`. Without an offset the time is account-local, as ActiveCampaign reads filters.
pub(crate) fn parse(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.is_ascii() || text.len() < 10 {
        return None;
    }
    let (date, rest) = text.split_at(10);
    let mut parts = date.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1..=9999).contains(&y) {
        return None;
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    let rest = rest.strip_prefix(['T', ' ']).unwrap_or(rest);
    let (time, offset) = match rest.find(['Z', '+', '-']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    if !time.is_empty() {
        let mut fields = time.split(':').map(|f| f.parse::<i64>().ok());
        let h = fields.next()??;
        let min = fields.next()??;
        let s = fields.next().unwrap_or(Some(0))?;
        if fields.next().is_some() || h > 23 || min > 59 || s > 60 || h < 0 || min < 0 || s < 0 {
            return None;
        }
        secs += h * 3_600 + min * 60 + s;
    }
    let offset = match offset {
        "" => ACCOUNT_OFFSET_SECS,
        "Z" => 0,
        _ => {
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            let (h, m) = offset.get(1..)?.split_once(':')?;
            let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
            if !(0..=14).contains(&h) || !(0..=59).contains(&m) {
                return None;
            }
            sign * (h * 3_600 + m * 60)
        }
    };
    Some(secs - offset)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        assert_eq!(iso(1_600_000_000), "2020-09-13T07:26:40-05:00");
        assert_eq!(plain(1_600_000_000), "2020-09-13 07:26:40");
        for epoch in [0, 951_782_400, 1_600_000_000, 1_700_000_123, 4_102_444_800] {
            assert_eq!(parse(&iso(epoch)), Some(epoch), "{}", iso(epoch));
            assert_eq!(parse(&plain(epoch)), Some(epoch), "{}", plain(epoch));
        }
        assert_eq!(parse("2020-09-13T12:26:40Z"), Some(1_600_000_000));
        assert_eq!(parse("2020-09-13T12:26:40+00:00"), Some(1_600_000_000));
        assert_eq!(parse("2020-09-13"), Some(1_599_955_200 + 5 * 3_600));
    }

    #[test]
    fn garbage_is_none_not_a_panic() {
        for bad in [
            "",
            "yesterday",
            "2020-13-01",
            "2020-09-13T25:00:00",
            "2020-09-13T10",
            "20200913",
            "2020-09-13T10:00:00+99:00",
            "2020-09-13T10:00:00+",
            "ééééééééééé",
            "0000-01-01",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
