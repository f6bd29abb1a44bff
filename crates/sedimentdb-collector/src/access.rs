//! Access control: roles with permissions per source and category, checked for every
//! query and export through the collector.
//!
//! A permission is a level: [`Access::None`], [`Access::Aggregated`] (only aggregates
//! that hide individuals: an aggregation, grouped by dimensions that are not
//! identifiers, filtering on no identifier) or [`Access::Raw`] (anything).
//!
//! A query that names a source (or category) the role may not read at the level the
//! query needs is denied. A query that names none is narrowed to the sources the role
//! may read (`source in [...]`), so that "everything about command X" works for an
//! analyst without leaking security events. A query filtering or grouping by an
//! identifier dimension is denied to a role without raw access to `user` metrics.
//! Default policy:
//!
//! | role      | system | performance | learning | business | user       | security |
//! |-----------|--------|-------------|----------|----------|------------|----------|
//! | admin     | raw    | raw         | raw      | raw      | raw        | raw      |
//! | analyst   | raw    | raw         | raw      | raw      | aggregated | none     |
//! | service   | raw    | raw         | none     | none     | none       | none     |

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::event::Source;
use super::query::MetricQuery;
use sedimentdb::Matcher;

/// A role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything, manages users' data and the audit log.
    Admin,
    /// Reads aggregates of user metrics and everything but security.
    Analyst,
    /// A service: writes metrics, reads system and performance figures (dashboards,
    /// autoscaling).
    Service,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Service => "service",
        })
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Principal {
    /// A name for the audit log (a user name, a service name).
    pub name: String,
    /// The role.
    pub role: Role,
}

impl Principal {
    /// A principal.
    pub fn new(name: impl Into<String>, role: Role) -> Self {
        Principal {
            name: name.into(),
            role,
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.role)
    }
}

/// A permission level, ordered: `None < Aggregated < Raw`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Nothing.
    None,
    /// Aggregates that hide individuals.
    Aggregated,
    /// Everything.
    Raw,
}

/// What the check decided.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Run this query (the original, or narrowed to the readable sources).
    Allowed(MetricQuery),
    /// Refused, with the reason.
    Denied(String),
}

/// Permissions per role, source and (optionally) category. The most specific entry
/// wins: (role, source, category), then (role, source).
#[derive(Debug, Clone, PartialEq)]
pub struct AccessPolicy {
    grants: BTreeMap<(Role, Source, Option<String>), Access>,
    identifier_dimensions: Vec<String>,
}

impl Default for AccessPolicy {
    fn default() -> Self {
        let mut p = AccessPolicy {
            grants: BTreeMap::new(),
            identifier_dimensions: vec!["user_id".into(), "session_id".into()],
        };
        for s in Source::ALL {
            p = p.grant(Role::Admin, s, None, Access::Raw);
            let analyst = match s {
                Source::Security => Access::None,
                Source::User => Access::Aggregated,
                _ => Access::Raw,
            };
            p = p.grant(Role::Analyst, s, None, analyst);
            let service = match s {
                Source::System | Source::Performance => Access::Raw,
                _ => Access::None,
            };
            p = p.grant(Role::Service, s, None, service);
        }
        p
    }
}

impl AccessPolicy {
    /// Sets the level of `role` on `source` (all categories, or one).
    pub fn grant(
        mut self,
        role: Role,
        source: Source,
        category: Option<&str>,
        access: Access,
    ) -> Self {
        self.grants
            .insert((role, source, category.map(str::to_string)), access);
        self
    }

    /// The dimensions that identify individuals (a filter or grouping on them makes a
    /// query raw). Default: `user_id`, `session_id`.
    pub fn identifier_dimensions(mut self, dims: Vec<String>) -> Self {
        self.identifier_dimensions = dims;
        self
    }

    /// The level of `role` on `source` / `category`.
    pub fn level(&self, role: Role, source: Source, category: Option<&str>) -> Access {
        if let Some(c) = category {
            if let Some(&a) = self.grants.get(&(role, source, Some(c.to_string()))) {
                return a;
            }
        }
        self.grants
            .get(&(role, source, None))
            .copied()
            .unwrap_or(Access::None)
    }

    /// The level a query needs.
    pub fn required(&self, query: &MetricQuery) -> Access {
        let is_id = |k: &str| self.identifier_dimensions.iter().any(|d| d == k);
        let aggregated = query.aggregation.is_some()
            && query
                .group_by
                .as_ref()
                .is_some_and(|g| !g.iter().any(|k| is_id(k)))
            && !query.matchers.iter().any(|m| is_id(m.key()));
        if aggregated {
            Access::Aggregated
        } else {
            Access::Raw
        }
    }

    /// True when the query filters or groups by an identifier dimension.
    fn touches_identifiers(&self, query: &MetricQuery) -> bool {
        let is_id = |k: &str| self.identifier_dimensions.iter().any(|d| d == k);
        query.matchers.iter().any(|m| is_id(m.key()))
            || query
                .group_by
                .as_ref()
                .is_some_and(|g| g.iter().any(|k| is_id(k)))
    }

    /// Checks `query` for `who`.
    pub fn check(&self, who: &Principal, query: &MetricQuery) -> Decision {
        let need = self.required(query);
        if self.touches_identifiers(query) && self.level(who.role, Source::User, None) < Access::Raw
        {
            return Decision::Denied(format!(
                "role {} may not read individual users' metrics (filter or grouping on an identifier)",
                who.role
            ));
        }
        let what = if need == Access::Raw {
            "raw"
        } else {
            "aggregated"
        };
        let category = query.category.as_deref();
        if let Some(source) = query.source {
            return if self.level(who.role, source, category) >= need {
                Decision::Allowed(self.exclude_denied_categories(
                    who.role,
                    &[source],
                    query.clone(),
                    need,
                ))
            } else {
                Decision::Denied(format!(
                    "role {} may not read {what} {source} metrics{}",
                    who.role,
                    category
                        .map(|c| format!(" of category {c}"))
                        .unwrap_or_default()
                ))
            };
        }
        let readable: Vec<Source> = Source::ALL
            .into_iter()
            .filter(|&s| self.level(who.role, s, category) >= need)
            .collect();
        if readable.is_empty() {
            return Decision::Denied(format!(
                "role {} may not read {what} metrics of any source{}",
                who.role,
                category
                    .map(|c| format!(" in category {c}"))
                    .unwrap_or_default()
            ));
        }
        let mut q = query.clone();
        if readable.len() < Source::ALL.len() {
            q.matchers.push(Matcher::one_of(
                "source",
                readable.iter().map(|s| s.as_str().to_string()),
            ));
        }
        Decision::Allowed(self.exclude_denied_categories(who.role, &readable, q, need))
    }

    /// When the query names no category, leaves out the categories the role may not
    /// read at `need` in any of `sources` (safe: may also leave them out of a source
    /// where they would be readable).
    fn exclude_denied_categories(
        &self,
        role: Role,
        sources: &[Source],
        mut query: MetricQuery,
        need: Access,
    ) -> MetricQuery {
        if query.category.is_some() {
            return query;
        }
        for ((r, s, c), &level) in &self.grants {
            if let Some(c) = c {
                if *r == role && sources.contains(s) && level < need {
                    query.matchers.push(Matcher::ne("category", c.clone()));
                }
            }
        }
        query
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Aggregation;

    fn allowed(d: &Decision) -> Option<String> {
        match d {
            Decision::Allowed(q) => Some(q.to_string()),
            Decision::Denied(_) => None,
        }
    }

    #[test]
    fn default_policy_per_role() {
        let p = AccessPolicy::default();
        let admin = Principal::new("root", Role::Admin);
        let analyst = Principal::new("ana", Role::Analyst);
        let service = Principal::new("svc", Role::Service);
        let security = MetricQuery::any().source(Source::Security);
        assert!(allowed(&p.check(&admin, &security)).is_some());
        assert!(allowed(&p.check(&analyst, &security)).is_none());
        assert!(allowed(&p.check(&service, &security)).is_none());

        let raw_user = MetricQuery::metric("clicks").source(Source::User);
        let agg_user = raw_user
            .clone()
            .aggregate(Aggregation::Count)
            .group_by(["command"]);
        let per_user = agg_user.clone().group_by(["user_id"]);
        assert!(allowed(&p.check(&analyst, &raw_user)).is_none());
        assert!(allowed(&p.check(&analyst, &agg_user)).is_some());
        assert!(allowed(&p.check(&analyst, &per_user)).is_none());
        assert!(allowed(&p.check(&admin, &per_user)).is_some());
        assert!(allowed(&p.check(&service, &agg_user)).is_none());

        // Unnamed sources are narrowed to the readable ones.
        let any = MetricQuery::metric("cpu_usage");
        let narrowed = allowed(&p.check(&analyst, &any)).unwrap();
        assert!(
            narrowed.contains(r#"source in ["system", "performance", "learning", "business"]"#),
            "{narrowed}"
        );
        let svc = allowed(&p.check(&service, &any)).unwrap();
        assert!(
            svc.contains(r#"source in ["system", "performance"]"#),
            "{svc}"
        );
        assert_eq!(allowed(&p.check(&admin, &any)).unwrap(), "cpu_usage");
    }

    #[test]
    fn category_grants_override_the_source() {
        let p = AccessPolicy::default().grant(
            Role::Analyst,
            Source::Business,
            Some("revenue"),
            Access::None,
        );
        let analyst = Principal::new("ana", Role::Analyst);
        let revenue = MetricQuery::any()
            .source(Source::Business)
            .category("revenue");
        assert!(allowed(&p.check(&analyst, &revenue)).is_none());
        let business =
            allowed(&p.check(&analyst, &MetricQuery::any().source(Source::Business))).unwrap();
        assert!(business.contains(r#"category!="revenue""#), "{business}");
    }
}
