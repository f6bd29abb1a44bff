//! The text form of a [`Selector`]: parsing (`FromStr`), printing (`Display`) and serde
//! (a selector serialises as its text).
//!
//! The grammar is documented on [`Selector`].

use std::fmt::{self, Write as _};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::types::{Matcher, Selector};

/// The dimension key that names the metric in PromQL.
pub(crate) const NAME_LABEL: &str = "__name__";

impl FromStr for Selector {
    type Err = Error;

    fn from_str(text: &str) -> Result<Selector> {
        Parser::new(text).selector()
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(metric) = self.metric_name() {
            f.write_str(metric)?;
        }
        if self.matchers().is_empty() && self.metric_name().is_some() {
            return Ok(());
        }
        f.write_char('{')?;
        for (i, m) in self.matchers().iter().enumerate() {
            if i > 0 {
                f.write_char(',')?;
            }
            write!(f, "{m}")?;
        }
        f.write_char('}')
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Eq(k, v) => write!(f, "{k}={}", Quoted(v)),
            Matcher::Ne(k, v) => write!(f, "{k}!={}", Quoted(v)),
            Matcher::Regex(k, re) => write!(f, "{k}=~{}", Quoted(pattern_of(re))),
            Matcher::NotRegex(k, re) => write!(f, "{k}!~{}", Quoted(pattern_of(re))),
            Matcher::In(k, vs) => {
                write!(f, "{k} in (")?;
                for (i, v) in vs.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{}", Quoted(v))?;
                }
                f.write_char(')')
            }
            Matcher::Exists(k) => write!(f, "{k} exists"),
            Matcher::Absent(k) => write!(f, "{k} absent"),
        }
    }
}

impl Serialize for Selector {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Selector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The source pattern of a regex built by [`Matcher::regex`] (which anchors it as
/// `^(?:pattern)$`); a regex built otherwise is printed as it is.
fn pattern_of(re: &regex::Regex) -> &str {
    let s = re.as_str();
    s.strip_prefix("^(?:")
        .and_then(|s| s.strip_suffix(")$"))
        .unwrap_or(s)
}

/// A string in double quotes with the grammar's escapes.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '"' => f.write_str("\\\"")?,
                '\n' => f.write_str("\\n")?,
                '\t' => f.write_str("\\t")?,
                '\r' => f.write_str("\\r")?,
                '\0' => f.write_str("\\0")?,
                c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

/// A recursive-descent parser over the characters of the text.
struct Parser<'a> {
    chars: Vec<char>,
    at: usize,
    text: &'a str,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            chars: text.chars().collect(),
            at: 0,
            text,
        }
    }

    /// An error at character index `at` (reported 1-based).
    fn error_at(&self, at: usize, what: impl fmt::Display) -> Error {
        Error::invalid(format!(
            "selector column {}: {what} in {:?}",
            at + 1,
            self.text
        ))
    }

    fn error(&self, what: impl fmt::Display) -> Error {
        self.error_at(self.at, what)
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// What stands at the cursor, for error messages.
    fn found(&self) -> String {
        match self.peek() {
            None => "the end".to_string(),
            Some(c) => format!("{c:?}"),
        }
    }

    fn selector(mut self) -> Result<Selector> {
        self.skip_ws();
        if self.peek().is_none() {
            return Err(self.error("empty selector (write {} for every series)"));
        }
        let mut metric = None;
        if self
            .peek()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        {
            metric = Some(self.word(|c| c.is_ascii_alphanumeric() || "_:.-".contains(c)));
            self.skip_ws();
        } else if self.peek() != Some('{') {
            return Err(self.error(format!(
                "expected a metric name or '{{', found {}",
                self.found()
            )));
        }
        let mut matchers = Vec::new();
        if self.eat('{') {
            self.skip_ws();
            while !self.eat('}') {
                let start = self.at;
                match self.matcher()? {
                    Parsed::Name(name) => {
                        if metric.is_some() {
                            return Err(self.error_at(start, "the metric is named twice"));
                        }
                        metric = Some(name);
                    }
                    Parsed::Matcher(m) => matchers.push(m),
                }
                self.skip_ws();
                if self.eat(',') {
                    self.skip_ws();
                } else if self.peek() != Some('}') {
                    return Err(self.error(format!(
                        "expected ',' or '}}' after a matcher, found {}",
                        self.found()
                    )));
                }
            }
            self.skip_ws();
        }
        if self.peek().is_some() {
            return Err(self.error(format!("unexpected {} after the selector", self.found())));
        }
        let mut selector = match metric {
            Some(name) => Selector::metric(name),
            None => Selector::any(),
        };
        for m in matchers {
            selector = selector.with(m);
        }
        Ok(selector)
    }

    fn word(&mut self, more: impl Fn(char) -> bool) -> String {
        let start = self.at;
        self.at += 1;
        while self.peek().is_some_and(&more) {
            self.at += 1;
        }
        self.chars[start..self.at].iter().collect()
    }

    fn matcher(&mut self) -> Result<Parsed> {
        if !self
            .peek()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        {
            return Err(self.error(format!("expected a dimension key, found {}", self.found())));
        }
        let key = self.word(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        self.skip_ws();
        let op_at = self.at;
        let op = if self.eat('=') {
            if self.eat('~') {
                "=~"
            } else {
                "="
            }
        } else if self.eat('!') {
            if self.eat('=') {
                "!="
            } else if self.eat('~') {
                "!~"
            } else {
                return Err(self.error(format!(
                    "expected '=' or '~' after '!', found {}",
                    self.found()
                )));
            }
        } else if self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            let word = self.word(|c| c.is_ascii_alphabetic());
            match word.as_str() {
                "in" | "exists" | "absent" if key == NAME_LABEL => {
                    return Err(self.error_at(op_at, format!("only = applies to {NAME_LABEL}")))
                }
                "in" => return self.in_list(key),
                "exists" => return Ok(Parsed::Matcher(Matcher::Exists(key))),
                "absent" => return Ok(Parsed::Matcher(Matcher::Absent(key))),
                _ => {
                    return Err(self.error_at(
                        op_at,
                        format!("unknown operator {word:?} (=, !=, =~, !~, in, exists, absent)"),
                    ))
                }
            }
        } else {
            return Err(self.error(format!(
                "expected an operator (=, !=, =~, !~, in, exists, absent) after {key:?}, found {}",
                self.found()
            )));
        };
        if key == NAME_LABEL && op != "=" {
            return Err(self.error_at(op_at, format!("only = applies to {NAME_LABEL}")));
        }
        self.skip_ws();
        let value_at = self.at;
        let value = self.string()?;
        let regex = |p: &Self, value: &str| {
            Matcher::regex(key.clone(), value).map_err(|e| match e {
                Error::InvalidArgument(msg) => p.error_at(value_at, msg),
                other => other,
            })
        };
        Ok(Parsed::Matcher(match op {
            "=" if key == NAME_LABEL => return Ok(Parsed::Name(value)),
            "=" => Matcher::Eq(key, value),
            "!=" => Matcher::Ne(key, value),
            "=~" => regex(self, &value)?,
            _ => match regex(self, &value)? {
                Matcher::Regex(k, re) => Matcher::NotRegex(k, re),
                other => other,
            },
        }))
    }

    fn in_list(&mut self, key: String) -> Result<Parsed> {
        self.skip_ws();
        if !self.eat('(') {
            return Err(self.error(format!("expected '(' after 'in', found {}", self.found())));
        }
        let mut values = Vec::new();
        self.skip_ws();
        while !self.eat(')') {
            values.push(self.string()?);
            self.skip_ws();
            if self.eat(',') {
                self.skip_ws();
            } else if self.peek() != Some(')') {
                return Err(self.error(format!(
                    "expected ',' or ')' in a list, found {}",
                    self.found()
                )));
            }
        }
        Ok(Parsed::Matcher(Matcher::In(key, values)))
    }

    fn string(&mut self) -> Result<String> {
        let open_at = self.at;
        let quote = match self.peek() {
            Some(q @ ('"' | '\'')) => q,
            _ => {
                return Err(self.error(format!("expected a quoted string, found {}", self.found())))
            }
        };
        self.at += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error_at(open_at, "unterminated string")),
                Some(c) if c == quote => {
                    self.at += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    let esc_at = self.at;
                    self.at += 1;
                    let c = self.peek();
                    self.at += 1;
                    out.push(match c {
                        Some('\\') => '\\',
                        Some('"') => '"',
                        Some('\'') => '\'',
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some('0') => '\0',
                        Some('u') => self.unicode_escape(esc_at)?,
                        _ => {
                            return Err(self.error_at(
                                esc_at,
                                "unknown escape (\\\\, \\\", \\', \\n, \\t, \\r, \\0, \\u{HEX})",
                            ))
                        }
                    });
                }
                Some(c) => {
                    out.push(c);
                    self.at += 1;
                }
            }
        }
    }

    /// The `{hex}` of a `\u{...}` escape starting at `esc_at`.
    fn unicode_escape(&mut self, esc_at: usize) -> Result<char> {
        let bad = |p: &Self| {
            p.error_at(
                esc_at,
                "bad \\u{HEX} escape (1 to 6 hex digits of a Unicode scalar value)",
            )
        };
        if !self.eat('{') {
            return Err(bad(self));
        }
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
            self.at += 1;
        }
        let digits: String = self.chars[start..self.at].iter().collect();
        if digits.is_empty() || digits.len() > 6 || !self.eat('}') {
            return Err(bad(self));
        }
        u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| bad(self))
    }
}

enum Parsed {
    /// `__name__="x"`.
    Name(String),
    Matcher(Matcher),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::SeriesKey;
    use proptest::prelude::*;

    fn parse(s: &str) -> Selector {
        s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn column_of(s: &str) -> usize {
        let err = s.parse::<Selector>().unwrap_err();
        let Error::InvalidArgument(msg) = &err else {
            panic!("{s:?}: {err:?}")
        };
        let rest = msg
            .strip_prefix("selector column ")
            .unwrap_or_else(|| panic!("{msg}"));
        rest[..rest.find(':').unwrap()].parse().unwrap()
    }

    #[test]
    fn parses_the_promql_forms() {
        let sel = parse(r#"cpu_usage{host="web-1",region=~"eu-.*"}"#);
        assert_eq!(sel.metric_name(), Some("cpu_usage"));
        let eu = SeriesKey::new("cpu_usage")
            .with("host", "web-1")
            .with("region", "eu-west");
        let us = SeriesKey::new("cpu_usage")
            .with("host", "web-1")
            .with("region", "us-east");
        assert!(sel.matches(&eu));
        assert!(!sel.matches(&us));

        let sel = parse(r#"  { __name__ = "cpu" , host != 'a' , dc !~ "x|y" , } "#);
        assert_eq!(sel.metric_name(), Some("cpu"));
        assert_eq!(sel.matchers().len(), 2);
        assert!(sel.matches(&SeriesKey::new("cpu").with("host", "b").with("dc", "z")));
        assert!(sel.matches(&SeriesKey::new("cpu")));
        assert!(!sel.matches(&SeriesKey::new("cpu").with("dc", "x")));
        assert!(!sel.matches(&SeriesKey::new("cpu").with("host", "a")));
        assert!(!sel.matches(&SeriesKey::new("mem")));

        assert!(parse("{}").metric_name().is_none());
        assert!(parse("{}").matchers().is_empty());
        assert_eq!(parse("m").to_string(), "m");
        assert_eq!(parse("m{}").to_string(), "m");
        assert_eq!(parse("{}").to_string(), "{}");
        let sel = parse(r#"m{h in ("a", "b"), z exists, q absent}"#);
        assert!(sel.matches(&SeriesKey::new("m").with("h", "b").with("z", "")));
        assert!(!sel.matches(&SeriesKey::new("m").with("h", "c").with("z", "")));
        assert!(!sel.matches(&SeriesKey::new("m").with("h", "a")));
        assert_eq!(sel.to_string(), r#"m{h in ("a","b"),z exists,q absent}"#);
    }

    #[test]
    fn escapes_are_decoded_and_printed() {
        let sel = parse(r#"m{k="a\"b\\c\n\u{e9}'", j='it\'s'}"#);
        match &sel.matchers()[0] {
            Matcher::Eq(_, v) => assert_eq!(v, "a\"b\\c\né'"),
            other => panic!("{other:?}"),
        }
        match &sel.matchers()[1] {
            Matcher::Eq(_, v) => assert_eq!(v, "it's"),
            other => panic!("{other:?}"),
        }
        assert_eq!(sel.to_string(), r#"m{k="a\"b\\c\né'",j="it's"}"#);
    }

    #[test]
    fn errors_name_the_column() {
        assert_eq!(column_of(""), 1);
        assert_eq!(column_of("   "), 4);
        assert_eq!(column_of(r#"cpu{host="a" region="b"}"#), 14);
        assert_eq!(column_of(r#"cpu{host=="a"}"#), 10);
        assert_eq!(column_of(r#"cpu{host~"a"}"#), 9);
        assert_eq!(column_of(r#"cpu{host="a}"#), 10);
        assert_eq!(column_of(r#"cpu{host=~"("}"#), 11);
        assert_eq!(column_of(r#"cpu{1host="a"}"#), 5);
        assert_eq!(column_of(r#"cpu{host="a"} x"#), 15);
        assert_eq!(column_of(r#"cpu{__name__="x"}"#), 5);
        assert_eq!(column_of(r#"{__name__=~"x"}"#), 10);
        assert_eq!(column_of(r#"m{k="\q"}"#), 6);
        assert_eq!(column_of(r#"m{k="\u{d800}"}"#), 6);
        assert_eq!(column_of(r#"m{k like "x"}"#), 5);
        assert_eq!(column_of(r#"m{k in "x"}"#), 8);
        assert_eq!(column_of("9m"), 1);
        assert_eq!(column_of("é"), 1);
        assert_eq!(column_of(r#"m{k="é"} !"#), 10);
    }

    #[test]
    fn serde_uses_the_text() {
        let sel = parse(r#"cpu{host="a"}"#);
        let json = serde_json_like(&sel);
        assert_eq!(json, r#"cpu{host="a"}"#);
        let back: Selector = bincode::deserialize(&bincode::serialize(&sel).unwrap()).unwrap();
        assert_eq!(back.to_string(), sel.to_string());
        let bad = bincode::serialize(&"cpu{".to_string()).unwrap();
        assert!(bincode::deserialize::<Selector>(&bad).is_err());
    }

    fn serde_json_like(sel: &Selector) -> String {
        // bincode writes a string as a length and its bytes: read the bytes back.
        let bytes = bincode::serialize(sel).unwrap();
        String::from_utf8(bytes[8..].to_vec()).unwrap()
    }

    fn arb_string() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9 ._-]{0,8}",
            any::<String>().prop_map(|s| s.chars().take(8).collect()),
            Just("\"\\'\n\t\r\0\u{1}".to_string()),
        ]
    }

    fn arb_matcher() -> impl Strategy<Value = Matcher> {
        let key =
            "[A-Za-z_][A-Za-z0-9_.-]{0,6}".prop_filter("not the name label", |k| k != NAME_LABEL);
        let pattern = prop_oneof![
            Just("a.*".to_string()),
            Just("x|y".to_string()),
            Just("[\"\\\\]".to_string()),
            "[a-z]{0,4}"
        ];
        prop_oneof![
            (key.clone(), arb_string()).prop_map(|(k, v)| Matcher::eq(k, v)),
            (key.clone(), arb_string()).prop_map(|(k, v)| Matcher::ne(k, v)),
            (key.clone(), pattern.clone()).prop_map(|(k, p)| Matcher::regex(k, &p).unwrap()),
            (key.clone(), pattern).prop_map(|(k, p)| Matcher::not_regex(k, &p).unwrap()),
            (key.clone(), prop::collection::vec(arb_string(), 0..3))
                .prop_map(|(k, vs)| Matcher::one_of(k, vs)),
            key.clone().prop_map(Matcher::exists),
            key.prop_map(Matcher::absent),
        ]
    }

    fn arb_selector() -> impl Strategy<Value = Selector> {
        (
            prop::option::of("[A-Za-z_:][A-Za-z0-9_:.-]{0,8}"),
            prop::collection::vec(arb_matcher(), 0..4),
        )
            .prop_map(|(metric, matchers)| {
                let mut sel = metric.map_or_else(Selector::any, Selector::metric);
                for m in matchers {
                    sel = sel.with(m);
                }
                sel
            })
    }

    fn arb_key() -> impl Strategy<Value = SeriesKey> {
        (
            prop_oneof![Just("m".to_string()), "[a-z]{1,3}"],
            prop::collection::btree_map(
                "[a-c]",
                prop_oneof![Just("a".to_string()), Just("x".to_string()), arb_string()],
                0..3,
            ),
        )
            .prop_map(|(name, dims)| SeriesKey::from_parts(name, dims))
    }

    proptest! {
        /// Display then parse gives a selector that prints the same and matches the
        /// same series.
        #[test]
        fn display_parse_round_trip(sel in arb_selector(), keys in prop::collection::vec(arb_key(), 8)) {
            let text = sel.to_string();
            let back: Selector = text.parse().map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
            prop_assert_eq!(back.to_string(), text.clone());
            prop_assert_eq!(back.metric_name(), sel.metric_name());
            prop_assert_eq!(back.matchers().len(), sel.matchers().len());
            for key in &keys {
                prop_assert_eq!(back.matches(key), sel.matches(key), "{} on {}", text, key);
            }
        }

        /// Arbitrary text never panics the parser; errors are InvalidArgument with a
        /// column inside the text (or just past its end).
        #[test]
        fn arbitrary_text_is_parsed_or_refused(text in "[a-z{}=!~\"',() \\\\_]{0,16}") {
            match text.parse::<Selector>() {
                Ok(sel) => {
                    let again: Selector = sel.to_string().parse().unwrap();
                    prop_assert_eq!(again.to_string(), sel.to_string());
                }
                Err(Error::InvalidArgument(msg)) => {
                    let rest = msg.strip_prefix("selector column ").unwrap();
                    let col: usize = rest[..rest.find(':').unwrap()].parse().unwrap();
                    prop_assert!(col >= 1 && col <= text.chars().count() + 1, "{}", msg);
                }
                Err(other) => prop_assert!(false, "{other:?}"),
            }
        }
    }
}
