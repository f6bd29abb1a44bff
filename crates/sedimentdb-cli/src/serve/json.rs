//! Prometheus' JSON shapes: `{"status":"success","data":...}` and
//! `{"status":"error","errorType":...,"error":...}`; values as strings, times as
//! seconds with millisecond precision.

use sedimentdb_promql::{Labels, QueryValue};

/// A JSON string literal.
pub fn string(out: &mut String, s: &str) {
    out.push_str(&serde_json::Value::String(s.to_owned()).to_string());
}

/// A float as Prometheus prints a sample value: Go's `FormatFloat(f, 'f', -1, 64)`
/// (shortest round-trip digits, no exponent), `NaN`, `+Inf`, `-Inf`.
pub fn value(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{f}")
    }
}

/// Nanoseconds as Prometheus' seconds: milliseconds are its resolution, trailing zeros
/// trimmed (`1435781451.781`, `1435781451`).
pub fn timestamp(out: &mut String, ns: i64) {
    let ms = ns.div_euclid(1_000_000);
    let secs = ms.div_euclid(1000);
    let frac = ms.rem_euclid(1000);
    if frac == 0 {
        out.push_str(&secs.to_string());
    } else {
        let f = format!("{frac:03}");
        out.push_str(&format!("{secs}.{}", f.trim_end_matches('0')));
    }
}

/// A label set as a JSON object.
pub fn labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, (k, v)) in labels.pairs().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, k);
        out.push(':');
        string(out, v);
    }
    out.push('}');
}

fn point(out: &mut String, ts: i64, v: f64) {
    out.push('[');
    timestamp(out, ts);
    out.push_str(",\"");
    out.push_str(&value(v));
    out.push_str("\"]");
}

/// The `data` of a query answer.
pub fn query_data(out: &mut String, v: &QueryValue) {
    out.push_str("{\"resultType\":\"");
    out.push_str(v.result_type());
    out.push_str("\",\"result\":");
    match v {
        QueryValue::Scalar {
            timestamp: t,
            value,
        } => point(out, *t, *value),
        QueryValue::String {
            timestamp: t,
            value,
        } => {
            out.push('[');
            timestamp(out, *t);
            out.push(',');
            string(out, value);
            out.push(']');
        }
        QueryValue::Vector(samples) => {
            out.push('[');
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                labels(out, &s.labels);
                out.push_str(",\"value\":");
                point(out, s.timestamp, s.value);
                out.push('}');
            }
            out.push(']');
        }
        QueryValue::Matrix(series) => {
            out.push('[');
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                labels(out, &s.labels);
                out.push_str(",\"values\":[");
                for (j, (t, v)) in s.points.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    point(out, *t, *v);
                }
                out.push_str("]}");
            }
            out.push(']');
        }
        // QueryValue is non-exhaustive; a new kind would need its own shape.
        _ => out.push_str("null"),
    }
    out.push('}');
}

/// `{"status":"success","data":<data>}`.
pub fn success(data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 32);
    out.push_str("{\"status\":\"success\",\"data\":");
    out.push_str(data);
    out.push('}');
    out
}

/// `{"status":"error","errorType":...,"error":...}`.
pub fn error(error_type: &str, message: &str) -> String {
    let mut out = String::from("{\"status\":\"error\",\"errorType\":");
    string(&mut out, error_type);
    out.push_str(",\"error\":");
    string(&mut out, message);
    out.push('}');
    out
}

/// A JSON array of strings.
pub fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::from("[");
    for (i, s) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(&mut out, s);
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_times_print_as_prometheus_prints_them() {
        assert_eq!(value(1.0), "1");
        assert_eq!(value(0.1), "0.1");
        assert_eq!(value(-2.5), "-2.5");
        assert_eq!(value(1e21), "1000000000000000000000");
        assert_eq!(value(f64::NAN), "NaN");
        assert_eq!(value(f64::INFINITY), "+Inf");
        assert_eq!(value(f64::NEG_INFINITY), "-Inf");
        let mut s = String::new();
        timestamp(&mut s, 1_435_781_451_781_000_000);
        s.push(' ');
        timestamp(&mut s, 1_435_781_451_000_000_000);
        s.push(' ');
        timestamp(&mut s, 1_435_781_451_500_000_000);
        assert_eq!(s, "1435781451.781 1435781451 1435781451.5");
        assert_eq!(
            error("bad_data", "x \"y\""),
            r#"{"status":"error","errorType":"bad_data","error":"x \"y\""}"#
        );
    }
}
