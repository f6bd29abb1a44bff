//! Times and durations as a shell user writes them, and the `--last/--days/--start/--end
//! /--now` range options shared by the commands that read a time range.
//!
//! A time is RFC 3339 (`2016-01-01T06:00:00Z`), a date (`2016-01-01`, midnight UTC),
//! integer nanoseconds since the epoch, or relative to "now": `now`, `now-2h`, `-2h`,
//! `2h ago`. "Now" is the wall clock, or what `--now` says (`--now latest` is the newest
//! point of the selected series, for data that did not arrive just now).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use sedimentdb::{Aggregate, Db, Query, Selector, TimeRange, Timestamp};

use crate::exit::{CliError, CliResult};

/// A time given on the command line, before "now" is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeArg {
    /// Nanoseconds since the Unix epoch.
    At(Timestamp),
    /// This many nanoseconds before "now" (0 is now itself).
    Ago(i64),
}

impl TimeArg {
    /// The timestamp, with "now" known.
    pub fn resolve(self, now: Timestamp) -> Timestamp {
        match self {
            TimeArg::At(t) => t,
            TimeArg::Ago(ns) => now.saturating_sub(ns),
        }
    }
}

/// `--now`: what relative times count from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NowArg {
    /// This time.
    At(Timestamp),
    /// The newest point of the selected series.
    Latest,
}

/// Parses a time (see the module documentation).
pub fn parse_time(text: &str) -> Result<TimeArg, String> {
    let t = text.trim();
    if let Ok(ns) = t.parse::<i64>() {
        return Ok(TimeArg::At(ns));
    }
    if t == "now" {
        return Ok(TimeArg::Ago(0));
    }
    let relative = t
        .strip_prefix("now-")
        .or_else(|| t.strip_prefix('-'))
        .or_else(|| t.strip_suffix(" ago"));
    if let Some(span) = relative {
        return parse_duration(span.trim()).map(TimeArg::Ago);
    }
    let with_time = if t.len() == 10 {
        format!("{t}T00:00:00Z")
    } else {
        t.to_string()
    };
    let at = humantime::parse_rfc3339_weak(&with_time).map_err(|e| {
        format!(
            "{text:?} is not a time ({e}; use RFC 3339 like 2016-01-01T06:00:00Z, a date, \
             nanoseconds, or relative like now-2h)"
        )
    })?;
    system_time_ns(at)
        .map(TimeArg::At)
        .ok_or_else(|| format!("{text:?} is out of range"))
}

/// Parses `--now`: a time (relative ones count from the wall clock) or `latest`.
pub fn parse_now(text: &str) -> Result<NowArg, String> {
    if text == "latest" {
        return Ok(NowArg::Latest);
    }
    Ok(NowArg::At(parse_time(text)?.resolve(wall_clock_ns())))
}

/// Parses a positive duration like `90s`, `1h30m`, `7d` (humantime) into nanoseconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let d = parse_std_duration(text)?;
    i64::try_from(d.as_nanos()).map_err(|_| format!("{text:?} is too long"))
}

/// Parses a positive duration like `90s`, `1h30m`, `7d` (humantime).
pub fn parse_std_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration ({e}; e.g. 90s, 1h30m, 7d)"))?;
    if d.is_zero() {
        return Err(format!("{text:?} is zero; give a positive duration"));
    }
    Ok(d)
}

/// The wall clock in nanoseconds since the epoch (0 before 1970).
pub fn wall_clock_ns() -> Timestamp {
    system_time_ns(SystemTime::now()).unwrap_or(0)
}

/// A `SystemTime` as nanoseconds since the epoch, if it fits.
pub fn system_time_ns(t: SystemTime) -> Option<i64> {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).ok(),
        Err(e) => i64::try_from(e.duration().as_nanos()).ok().map(|n| -n),
    }
}

/// Nanoseconds since the epoch as RFC 3339 (UTC, to the nanosecond when not whole).
pub fn rfc3339(ts: Timestamp) -> String {
    let epoch = UNIX_EPOCH;
    let t = if ts >= 0 {
        epoch + Duration::from_nanos(ts as u64)
    } else {
        epoch - Duration::from_nanos(ts.unsigned_abs())
    };
    if ts.rem_euclid(1_000_000_000) == 0 {
        humantime::format_rfc3339_seconds(t).to_string()
    } else {
        humantime::format_rfc3339_nanos(t).to_string()
    }
}

/// The time-range options of the commands that read a range.
#[derive(Debug, Clone, Args)]
pub struct RangeArgs {
    /// The last this long before now, now included: `1h`, `24h`, `1h30m`, `7d`.
    #[arg(long, value_parser = parse_duration, conflicts_with_all = ["days", "start"])]
    pub last: Option<i64>,

    /// The last this many days before now (`--days 7` is `--last 7d`).
    #[arg(long, conflicts_with = "start")]
    pub days: Option<u32>,

    /// From this time: RFC 3339, a date, nanoseconds, or relative (`now-2h`, `2h ago`).
    #[arg(long, value_parser = parse_time, allow_hyphen_values = true)]
    pub start: Option<TimeArg>,

    /// Up to (excluding) this time; same forms as --start. Default: now when --last,
    /// --days or a relative --start is given, else the end of the data.
    #[arg(long, value_parser = parse_time, allow_hyphen_values = true)]
    pub end: Option<TimeArg>,

    /// What relative times count from: a time, or `latest` (the newest point of the
    /// selected series, for data that did not arrive just now). Default: the wall clock.
    #[arg(long, value_parser = parse_now)]
    pub now: Option<NowArg>,
}

impl RangeArgs {
    /// True when some option is relative to now.
    fn is_relative(&self) -> bool {
        self.last.is_some()
            || self.days.is_some()
            || matches!(self.start, Some(TimeArg::Ago(_)))
            || matches!(self.end, Some(TimeArg::Ago(_)))
    }

    /// The range `[start, end)`, and "now" when the range ends just after it (a
    /// relative range). With `--now latest`, reads the newest timestamp of the series
    /// `selector` matches (one cheap whole-range `last` query).
    pub fn resolve_with_now(&self, db: &Db, selector: &Selector) -> CliResult<Resolved> {
        let now = match self.now {
            Some(NowArg::At(t)) => t,
            Some(NowArg::Latest) => latest(db, selector)?,
            None => wall_clock_ns(),
        };
        let all = TimeRange::all();
        // "now" itself is inside a relative range: the end is just past it.
        let relative_end = now.saturating_add(1);
        let end = match self.end {
            Some(e) => e.resolve(now),
            None if self.is_relative() || self.now.is_some() => relative_end,
            None => all.end,
        };
        let span = self
            .last
            .or_else(|| self.days.map(|d| i64::from(d) * 86_400_000_000_000));
        let start = match (span, self.start) {
            (Some(ns), _) => now.saturating_sub(ns),
            (None, Some(s)) => s.resolve(now),
            (None, None) => all.start,
        };
        if start >= end {
            return Err(CliError::new(format!(
                "the time range [{}, {}) is empty (--start must be before --end)",
                rfc3339(start),
                rfc3339(end)
            )));
        }
        Ok(Resolved {
            range: TimeRange::new(start, end),
            ends_now: (end == relative_end).then_some(now),
        })
    }
}

/// A resolved range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// `[start, end)`.
    pub range: TimeRange,
    /// "Now", when the range ends just after it (so that a point at now is inside).
    pub ends_now: Option<Timestamp>,
}

/// The newest timestamp of the series `selector` matches.
fn latest(db: &Db, selector: &Selector) -> CliResult<Timestamp> {
    let q = Query::select(selector.clone())
        .aggregate(Aggregate::Last)
        .group_all();
    let result = db.query(&q)?;
    result
        .series
        .first()
        .and_then(|s| s.timestamps.first().copied())
        .ok_or_else(|| {
            CliError::new(format!(
                "--now latest: no series matching {selector} has a point"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_form() {
        assert_eq!(
            parse_time("2016-01-01"),
            Ok(TimeArg::At(1_451_606_400_000_000_000))
        );
        assert_eq!(
            parse_time("2016-01-01T01:00:00Z"),
            Ok(TimeArg::At(1_451_610_000_000_000_000))
        );
        assert_eq!(parse_time("42"), Ok(TimeArg::At(42)));
        assert_eq!(parse_time("now"), Ok(TimeArg::Ago(0)));
        let two_h = 7_200_000_000_000;
        assert_eq!(parse_time("now-2h"), Ok(TimeArg::Ago(two_h)));
        assert_eq!(parse_time("-2h"), Ok(TimeArg::Ago(two_h)));
        assert_eq!(parse_time("2h ago"), Ok(TimeArg::Ago(two_h)));
        assert!(parse_time("yesterday").unwrap_err().contains("RFC 3339"));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5 parsecs")
            .unwrap_err()
            .contains("not a duration"));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(rfc3339(1_451_606_400_000_000_000), "2016-01-01T00:00:00Z");
        assert_eq!(rfc3339(1), "1970-01-01T00:00:00.000000001Z");
    }
}
