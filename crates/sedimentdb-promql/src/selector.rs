//! PromQL label matchers onto engine selectors.
//!
//! Prometheus treats a missing label as the empty string, so `{a=""}` matches series
//! without `a` and `{a!~"x"}` matches series without `a`. The engine's matchers do not
//! all say the same, so the translation pushes down only the matchers whose engine
//! form selects exactly the same series (`=` and `!=` with a non-empty value, `=~` whose
//! pattern cannot match the empty string, `__name__=`), and every matcher is checked
//! again, with Prometheus' semantics, on the label sets that come back.

use promql_parser::label::{MatchOp, Matcher as PromMatcher, Matchers};
use sedimentdb::{Matcher, Selector};

use crate::error::{PromError, Result};
use crate::labels::{Labels, METRIC_NAME};

/// One matcher with Prometheus' semantics.
#[derive(Debug, Clone)]
enum Test {
    Eq(String),
    Ne(String),
    Re(regex::Regex),
    NotRe(regex::Regex),
}

#[derive(Debug, Clone)]
struct LabelTest {
    name: String,
    test: Test,
}

impl LabelTest {
    fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.name).unwrap_or("");
        match &self.test {
            Test::Eq(v) => value == v,
            Test::Ne(v) => value != v,
            Test::Re(re) => re.is_match(value),
            Test::NotRe(re) => !re.is_match(value),
        }
    }
}

/// A vector selector's matchers: engine selectors that select a superset of the
/// series (one per `or` alternative), and the exact test.
#[derive(Debug, Clone)]
pub struct SeriesSelector {
    alternatives: Vec<(Selector, Vec<LabelTest>)>,
}

impl SeriesSelector {
    /// From a selector's optional metric name and its matchers.
    pub fn new(name: Option<&str>, matchers: &Matchers) -> Result<Self> {
        let mut groups: Vec<Vec<&PromMatcher>> = Vec::new();
        if matchers.or_matchers.is_empty() {
            groups.push(matchers.matchers.iter().collect());
        } else {
            for alt in &matchers.or_matchers {
                groups.push(alt.iter().chain(matchers.matchers.iter()).collect());
            }
        }
        let mut alternatives = Vec::with_capacity(groups.len());
        for group in groups {
            alternatives.push(translate(name, &group)?);
        }
        Ok(SeriesSelector { alternatives })
    }

    /// From a matcher string such as `up{job="x"}` (the `match[]` parameter of the
    /// series and label APIs).
    pub fn parse(text: &str) -> Result<Self> {
        match promql_parser::parser::parse(text).map_err(PromError::Parse)? {
            promql_parser::parser::Expr::VectorSelector(vs) => {
                SeriesSelector::new(vs.name.as_deref(), &vs.matchers)
            }
            _ => Err(PromError::BadData(format!(
                "invalid parameter \"match[]\": {text:?} is not a series selector"
            ))),
        }
    }

    /// The engine selectors; their union holds every matching series.
    pub fn engine_selectors(&self) -> impl Iterator<Item = &Selector> {
        self.alternatives.iter().map(|(s, _)| s)
    }

    /// Whether a label set matches, with Prometheus' semantics.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.alternatives
            .iter()
            .any(|(_, tests)| tests.iter().all(|t| t.matches(labels)))
    }
}

fn anchored(pattern: &str) -> Result<regex::Regex> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 20)
        .build()
        .map_err(|e| PromError::BadData(format!("invalid regular expression {pattern:?}: {e}")))
}

fn translate(name: Option<&str>, matchers: &[&PromMatcher]) -> Result<(Selector, Vec<LabelTest>)> {
    let mut metric: Option<String> = name.map(str::to_owned);
    let mut pushed: Vec<Matcher> = Vec::new();
    let mut tests: Vec<LabelTest> = Vec::new();
    if let Some(n) = name {
        tests.push(LabelTest {
            name: METRIC_NAME.into(),
            test: Test::Eq(n.to_owned()),
        });
    }
    for m in matchers {
        let test = match &m.op {
            MatchOp::Equal => Test::Eq(m.value.clone()),
            MatchOp::NotEqual => Test::Ne(m.value.clone()),
            MatchOp::Re(_) => Test::Re(anchored(&m.value)?),
            MatchOp::NotRe(_) => Test::NotRe(anchored(&m.value)?),
        };
        if m.name == METRIC_NAME {
            if let (Test::Eq(v), None) = (&test, &metric) {
                metric = Some(v.clone());
            }
        } else {
            match &test {
                Test::Eq(v) if !v.is_empty() => pushed.push(Matcher::eq(&m.name, v)),
                Test::Ne(v) if !v.is_empty() => pushed.push(Matcher::ne(&m.name, v)),
                Test::Re(re) if !re.is_match("") => {
                    pushed.push(Matcher::regex(&m.name, &m.value).map_err(|e| {
                        PromError::BadData(format!("invalid regular expression: {e}"))
                    })?)
                }
                _ => {}
            }
        }
        tests.push(LabelTest {
            name: m.name.clone(),
            test,
        });
    }
    let mut selector = match metric {
        Some(m) => Selector::metric(m),
        None => Selector::any(),
    };
    for m in pushed {
        selector = selector.with(m);
    }
    Ok((selector, tests))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sedimentdb::SeriesKey;

    fn sel(text: &str) -> SeriesSelector {
        SeriesSelector::parse(text).unwrap()
    }

    fn labels(key: SeriesKey) -> Labels {
        Labels::from_key(&key)
    }

    #[test]
    fn all_four_matchers_and_the_name_have_prometheus_semantics() {
        let a = labels(SeriesKey::new("cpu").with("host", "a").with("dc", "eu"));
        let b = labels(SeriesKey::new("cpu").with("host", "b"));
        let m = labels(SeriesKey::new("mem").with("host", "a"));
        assert!(sel(r#"cpu{host="a"}"#).matches(&a));
        assert!(!sel(r#"cpu{host="a"}"#).matches(&b));
        assert!(sel(r#"cpu{host!="a"}"#).matches(&b));
        assert!(sel(r#"cpu{host=~"a|b"}"#).matches(&b));
        assert!(!sel(r#"cpu{host=~"a|"}"#).matches(&b));
        assert!(sel(r#"cpu{host!~"a"}"#).matches(&b));
        // A missing label is the empty string.
        assert!(sel(r#"cpu{dc=""}"#).matches(&b));
        assert!(!sel(r#"cpu{dc=""}"#).matches(&a));
        assert!(sel(r#"cpu{dc!~"eu"}"#).matches(&b));
        assert!(sel(r#"{__name__=~"c.*"}"#).matches(&a));
        assert!(!sel(r#"{__name__=~"c.*"}"#).matches(&m));
        assert!(sel(r#"{__name__!="cpu", host="a"}"#).matches(&m));
        assert!(sel(r#"{__name__="mem"}"#).matches(&m));
        // Anchored at both ends, around the whole alternation.
        assert!(
            !sel(r#"cpu{host=~"a|x"}"#).matches(&labels(SeriesKey::new("cpu").with("host", "ab")))
        );
    }

    #[test]
    fn only_exact_matchers_are_pushed_down() {
        let s = sel(r#"cpu{host="a", dc="", zone!~"x", rack=~".*"}"#);
        let engine: Vec<&Selector> = s.engine_selectors().collect();
        assert_eq!(engine.len(), 1);
        assert_eq!(engine[0].metric_name(), Some("cpu"));
        assert_eq!(engine[0].matchers().len(), 1);
    }
}
