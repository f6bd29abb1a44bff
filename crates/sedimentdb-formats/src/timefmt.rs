//! RFC 3339 timestamps in UTC: a fast exact formatter (the JSONL writer's inner loop) and
//! a parser for any offset (through `time`).

/// Writes nanoseconds since the epoch as RFC 3339 in UTC with `Z`, with 0, 3, 6 or 9
/// fraction digits (as few as are exact), like the collector's `format_rfc3339`.
pub(crate) fn write_rfc3339(out: &mut Vec<u8>, ns: i64) {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (y, m, d) = civil_from_days(days);
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(format!("{y:04}").as_bytes());
    let two = |out: &mut Vec<u8>, sep: u8, n: u32| {
        out.push(sep);
        out.push(b'0' + (n / 10) as u8);
        out.push(b'0' + (n % 10) as u8);
    };
    two(out, b'-', m);
    two(out, b'-', d);
    two(out, b'T', sod / 3600);
    two(out, b':', sod / 60 % 60);
    two(out, b':', sod % 60);
    if frac != 0 {
        out.push(b'.');
        let (digits, width) = if frac.is_multiple_of(1_000_000) {
            (frac / 1_000_000, 3)
        } else if frac.is_multiple_of(1000) {
            (frac / 1000, 6)
        } else {
            (frac, 9)
        };
        let text = buf.format(digits);
        out.extend(std::iter::repeat_n(b'0', width - text.len()));
        out.extend_from_slice(text.as_bytes());
    }
    out.push(b'Z');
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Parses RFC 3339 (any offset, any fraction) into nanoseconds since the epoch.
pub(crate) fn parse_rfc3339(text: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .and_then(|t| i64::try_from(t.unix_timestamp_nanos()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(ns: i64) -> String {
        let mut out = Vec::new();
        write_rfc3339(&mut out, ns);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn formats_like_rfc3339_and_parses_back() {
        assert_eq!(fmt(0), "1970-01-01T00:00:00Z");
        assert_eq!(fmt(1_451_606_400_000_000_000), "2016-01-01T00:00:00Z");
        assert_eq!(fmt(1_451_606_400_250_000_000), "2016-01-01T00:00:00.250Z");
        assert_eq!(fmt(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(fmt(951_782_400_000_001_000), "2000-02-29T00:00:00.000001Z");
        for ns in [
            0,
            -1,
            1,
            sedimentdb::MIN_TIMESTAMP,
            sedimentdb::MAX_TIMESTAMP,
            1_714_564_800_123_456_789,
        ] {
            assert_eq!(parse_rfc3339(&fmt(ns)), Some(ns), "{}", fmt(ns));
        }
        assert_eq!(
            parse_rfc3339("2016-01-01T01:00:00+01:00"),
            Some(1_451_606_400_000_000_000)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
