//! Which way of moving is bad for a metric, guessed from its name and unit: throughput,
//! success, satisfaction, acceptance, hit ratios, free space and adoption fall badly;
//! everything else (latency, errors, usage, queue depths) rises badly.

use sedimentdb::analytics::trend::Direction;

/// Name fragments of metrics whose decline is bad.
const DECREASING_IS_BAD: [&str; 16] = [
    "throughput",
    "success",
    "satisfaction",
    "accept",
    "hit",
    "free",
    "available",
    "adoption",
    "confidence",
    "uptime",
    "usage_count",
    "feature_used",
    "conversion",
    "revenue",
    "requests_per",
    "score",
];

/// The bad direction of `metric` (with its unit, if known).
pub fn bad_direction(metric: &str, unit: Option<&str>) -> Direction {
    let name = metric.to_ascii_lowercase();
    if name.contains("error") || name.contains("fail") || name.contains("latency") {
        return Direction::IncreasingIsBad;
    }
    if DECREASING_IS_BAD.iter().any(|f| name.contains(f))
        || matches!(unit, Some("ops/s" | "req/s" | "rps"))
    {
        Direction::DecreasingIsBad
    } else {
        Direction::IncreasingIsBad
    }
}

/// `increasing_is_bad` or `decreasing_is_bad`.
pub fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::IncreasingIsBad => "increasing_is_bad",
        Direction::DecreasingIsBad => "decreasing_is_bad",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses() {
        assert_eq!(
            bad_direction("command_execution_time", Some("ms")),
            Direction::IncreasingIsBad
        );
        assert_eq!(
            bad_direction("satisfaction_score", None),
            Direction::DecreasingIsBad
        );
        assert_eq!(
            bad_direction("cache_hit_ratio", None),
            Direction::DecreasingIsBad
        );
        assert_eq!(
            bad_direction("error_score", None),
            Direction::IncreasingIsBad
        );
        assert_eq!(
            bad_direction("writes", Some("ops/s")),
            Direction::DecreasingIsBad
        );
        assert_eq!(
            bad_direction("cpu_usage", Some("percent")),
            Direction::IncreasingIsBad
        );
    }
}
