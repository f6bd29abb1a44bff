//! Numbers for people: a few significant digits, no exponent for ordinary magnitudes.

/// `v` with about four significant digits: `41.25`, `0.0123`, `12345.7`, `1.23e9`;
/// NaN (no value) as `-`.
pub fn human(v: f64) -> String {
    if v.is_nan() {
        return "-".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let a = v.abs();
    if a == 0.0 {
        return "0".into();
    }
    if !(1e-4..1e9).contains(&a) {
        return format!("{v:.3e}");
    }
    let decimals = if a >= 1000.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        // Four significant digits below 1.
        (3 - a.log10().floor() as i32).clamp(0, 8) as usize
    };
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magnitudes() {
        assert_eq!(human(41.25), "41.25");
        assert_eq!(human(41.0), "41");
        assert_eq!(human(0.012345), "0.01235");
        assert_eq!(human(12345.67), "12345.7");
        assert_eq!(human(1.5e12), "1.500e12");
        assert_eq!(human(f64::NAN), "-");
        assert_eq!(human(-2.5), "-2.5");
    }
}
