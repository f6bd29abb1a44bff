//! Number and time formatting shared by the renderers.

use sedimentdb::Timestamp;
use sedimentdb_collector::format_rfc3339;

/// A figure with about four significant digits: `0`, `0.0123`, `1.235`, `12.35`,
/// `1235`, `1.235M`; `-` for a missing or non-finite figure.
pub fn number(v: Option<f64>) -> String {
    let Some(v) = v.filter(|v| v.is_finite()) else {
        return "-".to_string();
    };
    let a = v.abs();
    let s = if a == 0.0 {
        "0".to_string()
    } else if a >= 1e9 {
        format!("{:.3}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.3}M", v / 1e6)
    } else if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 10.0 {
        format!("{v:.2}")
    } else if a >= 1.0 {
        format!("{v:.3}")
    } else {
        let digits = (3.0 - a.log10().floor()).clamp(3.0, 12.0) as usize;
        format!("{v:.digits$}")
    };
    trim_zeros(s)
}

fn trim_zeros(s: String) -> String {
    let (num, suffix) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (s[..i].to_string(), s[i..].to_string()),
        None => (s, String::new()),
    };
    if !num.contains('.') {
        return num + &suffix;
    }
    let t = num.trim_end_matches('0').trim_end_matches('.');
    t.to_string() + &suffix
}

/// A ratio as a signed percentage, `+12.3%`; `-` when missing.
pub fn percent(ratio: Option<f64>) -> String {
    match ratio.filter(|r| r.is_finite()) {
        Some(r) => format!("{:+.1}%", r * 100.0),
        None => "-".to_string(),
    }
}

/// `2026-12-03 14:05:00` (UTC).
pub fn time(ts: Timestamp) -> String {
    let s = format_rfc3339(ts);
    if s.len() >= 19 && s.as_bytes()[10] == b'T' {
        format!("{} {}", &s[..10], &s[11..19])
    } else {
        s
    }
}

/// `12-03 14:05` (UTC), for chart axes.
pub fn time_short(ts: Timestamp) -> String {
    let s = time(ts);
    if s.len() >= 16 {
        s[5..16].to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_four_digits_and_trim() {
        assert_eq!(number(Some(0.0)), "0");
        assert_eq!(number(Some(12.5)), "12.5");
        assert_eq!(number(Some(1234.56)), "1235");
        assert_eq!(number(Some(2_500_000.0)), "2.5M");
        assert_eq!(number(Some(0.012345)), "0.01235");
        assert_eq!(number(Some(-3.0)), "-3");
        assert_eq!(number(None), "-");
        assert_eq!(number(Some(f64::NAN)), "-");
        assert_eq!(percent(Some(0.1234)), "+12.3%");
        assert_eq!(time(86_400_000_000_000), "1970-01-02 00:00:00");
        assert_eq!(time_short(86_400_000_000_000), "01-02 00:00");
    }
}
