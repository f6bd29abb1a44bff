//! What a report is asked to cover: its type (or a selector), its period and the alert
//! rules to evaluate. Validated when the report is built.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sedimentdb::{Selector, TimeRange, Timestamp};
use sedimentdb_collector::AlertRule;

use crate::error::{ReportError, Result};

/// The report types: the collector's sources and categories, grouped by the question
/// they answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReportType {
    /// Timings and throughput of commands: source `performance`.
    Performance,
    /// System metrics: source `system` (alert records excluded).
    Health,
    /// Satisfaction and interactions: source `user`.
    UserExperience,
    /// Confidence and recommendation effectiveness: source `learning`.
    Learning,
    /// Feature use and success rates: source `business`, category `adoption`, and the
    /// `feature_used` metric.
    Adoption,
    /// Every metric.
    All,
}

impl ReportType {
    /// Every type, in the order of `--help`.
    pub const ALL: [ReportType; 6] = [
        ReportType::Performance,
        ReportType::Health,
        ReportType::UserExperience,
        ReportType::Learning,
        ReportType::Adoption,
        ReportType::All,
    ];

    /// The name used on the command line and in the JSON (`user-experience`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ReportType::Performance => "performance",
            ReportType::Health => "health",
            ReportType::UserExperience => "user-experience",
            ReportType::Learning => "learning",
            ReportType::Adoption => "adoption",
            ReportType::All => "all",
        }
    }

    /// Parses [`ReportType::as_str`]'s names.
    pub fn parse(text: &str) -> Option<ReportType> {
        ReportType::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// The title of a report of this type.
    pub fn title(self) -> &'static str {
        match self {
            ReportType::Performance => "Performance report",
            ReportType::Health => "Health report",
            ReportType::UserExperience => "User experience report",
            ReportType::Learning => "Learning report",
            ReportType::Adoption => "Adoption report",
            ReportType::All => "Metrics report",
        }
    }

    /// The series this type covers (any of the selectors).
    pub fn selectors(self) -> Vec<Selector> {
        use sedimentdb::Matcher;
        let source = |s: &str| Selector::any().with(Matcher::eq("source", s));
        match self {
            ReportType::Performance => vec![source("performance")],
            ReportType::Health => vec![source("system")],
            ReportType::UserExperience => vec![source("user")],
            ReportType::Learning => vec![source("learning")],
            ReportType::Adoption => vec![
                source("business"),
                Selector::any().with(Matcher::eq("category", "adoption")),
                Selector::metric("feature_used"),
            ],
            ReportType::All => vec![Selector::any()],
        }
    }

    /// The areas of the collector's recommendations this type shows
    /// (`sedimentdb_collector::InsightArea` in snake case).
    pub fn insight_areas(self) -> &'static [&'static str] {
        match self {
            ReportType::Performance => &["performance"],
            ReportType::Health => &["performance"],
            ReportType::UserExperience => &["user_experience"],
            ReportType::Learning => &["learning"],
            ReportType::Adoption => &["adoption"],
            ReportType::All => &["performance", "user_experience", "adoption", "learning"],
        }
    }
}

/// The period of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodSpec {
    /// The last span up to "now".
    Last(Duration),
    /// An absolute half-open range.
    Range(TimeRange),
}

/// What to report on. Build with [`ReportSpec::new`] and the builder methods; checked
/// by [`crate::Reporter::report`].
#[derive(Debug, Clone)]
pub struct ReportSpec {
    pub(crate) report_type: ReportType,
    pub(crate) selector: Option<(Selector, String)>,
    pub(crate) period: PeriodSpec,
    pub(crate) now: Option<Timestamp>,
    pub(crate) rules: Vec<AlertRule>,
    pub(crate) max_metrics: usize,
}

impl ReportSpec {
    /// A report of `report_type` over the last 7 days.
    pub fn new(report_type: ReportType) -> Self {
        ReportSpec {
            report_type,
            selector: None,
            period: PeriodSpec::Last(Duration::from_secs(7 * 86_400)),
            now: None,
            rules: Vec::new(),
            max_metrics: 200,
        }
    }

    /// Only series matching `selector` (on a plain engine database, what to report
    /// on); `text` is how it is shown.
    pub fn selector(mut self, selector: Selector, text: impl Into<String>) -> Self {
        self.selector = Some((selector, text.into()));
        self
    }

    /// The last `span` up to now.
    pub fn last(mut self, span: Duration) -> Self {
        self.period = PeriodSpec::Last(span);
        self
    }

    /// The half-open range `[start, end)`.
    pub fn between(mut self, start: Timestamp, end: Timestamp) -> Self {
        self.period = PeriodSpec::Range(TimeRange::new(start, end));
        self
    }

    /// What "now" is for [`ReportSpec::last`]. Default: the system clock.
    pub fn now(mut self, now: Timestamp) -> Self {
        self.now = Some(now);
        self
    }

    /// Alert rules to evaluate over the stored points (besides the alerts the collector
    /// stored).
    pub fn rules(mut self, rules: Vec<AlertRule>) -> Self {
        self.rules = rules;
        self
    }

    /// Most metrics in the report (the busiest are kept). Default: 200.
    pub fn max_metrics(mut self, n: usize) -> Self {
        self.max_metrics = n;
        self
    }

    /// The period `[start, end)`, checked.
    pub(crate) fn resolve_period(&self) -> Result<TimeRange> {
        let range = match self.period {
            PeriodSpec::Range(r) => r,
            PeriodSpec::Last(span) => {
                let span = i64::try_from(span.as_nanos())
                    .map_err(|_| ReportError::invalid("the period is too long"))?;
                let now = self.now.unwrap_or_else(system_now);
                TimeRange::new(now.saturating_sub(span), now.saturating_add(1))
            }
        };
        if range.end <= range.start {
            return Err(ReportError::invalid(
                "the period is empty: its end must come after its start",
            ));
        }
        if range.end - range.start < 60_000_000_000 {
            return Err(ReportError::invalid(
                "the period must be at least one minute long",
            ));
        }
        if self.max_metrics == 0 {
            return Err(ReportError::invalid("max_metrics must be at least 1"));
        }
        for rule in &self.rules {
            rule.check()?;
        }
        Ok(range)
    }
}

/// The system clock in nanoseconds since the Unix epoch.
pub(crate) fn system_now() -> Timestamp {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Bucket widths a timeline may use, in seconds.
const NICE_STEPS: [i64; 20] = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400,
    604_800, 2_592_000,
];

/// The timeline bucket for a period: the smallest "round" width giving at most 200
/// buckets (1 h for 7 days, 10 min for a day, 30 s for an hour).
pub fn step_for(period_ns: i64) -> i64 {
    let sec = 1_000_000_000i64;
    NICE_STEPS
        .iter()
        .map(|s| s * sec)
        .find(|&s| period_ns / s <= 200)
        .unwrap_or(period_ns / 200 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round_and_bounded() {
        let sec = 1_000_000_000i64;
        assert_eq!(step_for(7 * 86_400 * sec), 3600 * sec);
        assert_eq!(step_for(86_400 * sec), 600 * sec);
        assert_eq!(step_for(3600 * sec), 30 * sec);
        assert_eq!(step_for(60 * sec), sec);
        let years = 100 * 365 * 86_400 * sec;
        assert!(years / step_for(years) <= 200);
    }

    #[test]
    fn types_round_trip_their_names() {
        for t in ReportType::ALL {
            assert_eq!(ReportType::parse(t.as_str()), Some(t));
        }
        assert_eq!(ReportType::parse("perf"), None);
    }

    #[test]
    fn empty_and_short_periods_are_refused() {
        let spec = ReportSpec::new(ReportType::All).between(10, 10);
        assert!(spec.resolve_period().is_err());
        let spec = ReportSpec::new(ReportType::All).between(0, 1_000_000_000);
        assert!(spec.resolve_period().is_err());
        let spec = ReportSpec::new(ReportType::All)
            .last(Duration::from_secs(3600))
            .now(7_200_000_000_000);
        let r = spec.resolve_period().unwrap();
        assert_eq!((r.start, r.end), (3_600_000_000_000, 7_200_000_000_001));
    }
}
