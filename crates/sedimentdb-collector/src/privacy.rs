//! Privacy: keyed hashing of identifier dimensions, sanitisation of dimension values,
//! retention per data class, and deletion of one user's data.
//!
//! Everything here happens before a series key is built, so no raw identifier reaches
//! the WAL, the catalog or a segment. (Event ids and metadata are never stored at all.)
//!
//! * **Keyed hashing.** Values of the configured identifier dimensions (`user_id`,
//!   `session_id` by default) become `h:` + 32 hex digits of keyed BLAKE3 (128 bits).
//!   The 32-byte key is derived from the configured secret with BLAKE3's key derivation
//!   and lives only in memory; it is never written anywhere by the collector. The same
//!   user always hashes to the same value, so per-user queries and deletion work, while
//!   the stored value cannot be reversed or recomputed without the secret.
//! * **Sanitisation.** Every other dimension value is scanned by the sanitisation rules:
//!   e-mail addresses, bearer tokens, JWTs, `key=...`/`token=...` pairs and long hex or
//!   base64 secrets are replaced by a placeholder. Rules are regular expressions
//!   (linear-time), configurable.
//! * **Retention per data class.** A data class is a [`Source`], stored as the `source`
//!   dimension, so a class is a selector. Two ways to enforce it, both through the
//!   engine: [`PrivacyConfig::engine_retention`] turns the classes into the engine's
//!   per-selector retention rules ([`sedimentdb::Options::retention_for`]) when the `Db` is
//!   opened, so that [`sedimentdb::Db::apply_retention`] and the maintenance thread apply them
//!   (measured back from the newest point in the database);
//!   [`UnifiedMetricsCollector::apply_retention`](super::UnifiedMetricsCollector::apply_retention)
//!   applies them on demand measured from the collector's clock, with
//!   [`sedimentdb::Db::delete_series`] (`source = class`, time range up to the cut-off). Either
//!   way the points vanish from reads at once and from disk at the next compaction.
//! * **Forgetting a user.** [`UnifiedMetricsCollector::forget_user`](super::UnifiedMetricsCollector::forget_user)
//!   hashes the id and deletes every series whose user dimension holds that hash, over
//!   all time. Points leave the disk when their partition is next rewritten (the
//!   engine's `compact()` leaves a partition that is already one segment alone, so call
//!   [`sedimentdb::Db::compact_partition`] for the partitions involved to erase at once);
//!   the catalog keeps the (hashed, unlinkable without the secret) series key, as the
//!   engine never reuses ids.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use regex::Regex;

use super::error::CollectorError;
use super::event::Source;

/// Context string of the key derivation; changing it changes every hash.
const KDF_CONTEXT: &str = "sedimentdb collector 2024 identifier hashing v1";

/// Prefix of a hashed identifier value.
pub const HASH_PREFIX: &str = "h:";

/// One sanitisation rule: values matching `pattern` have each match replaced.
#[derive(Debug, Clone)]
pub struct SanitizeRule {
    /// A short name for reports (`email`, `bearer`, ...).
    pub name: String,
    /// The pattern.
    pub pattern: Regex,
    /// What replaces each match.
    pub replacement: String,
}

impl SanitizeRule {
    /// A rule from a pattern; fails on an invalid regular expression.
    pub fn new(name: &str, pattern: &str, replacement: &str) -> Result<Self, CollectorError> {
        let pattern = regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| CollectorError::Config(format!("sanitise rule {name}: {e}")))?;
        Ok(SanitizeRule {
            name: name.to_string(),
            pattern,
            replacement: replacement.to_string(),
        })
    }

    /// The default rules: e-mail addresses, bearer tokens, JWTs, `secret=value` pairs,
    /// and long hex or base64 strings.
    pub fn defaults() -> Vec<SanitizeRule> {
        let rules = [
            (
                "email",
                r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
                "<email>",
            ),
            ("bearer", r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+", "<token>"),
            (
                "jwt",
                r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
                "<token>",
            ),
            (
                "secret_pair",
                r"(?i)\b(api[_-]?key|token|secret|password|passwd|auth)=[^&\s]+",
                "$1=<redacted>",
            ),
            ("long_hex", r"\b[0-9a-fA-F]{32,}\b", "<token>"),
            ("long_base64", r"\b[A-Za-z0-9+/_-]{40,}={0,2}", "<token>"),
        ];
        rules
            .into_iter()
            .filter_map(|(n, p, r)| SanitizeRule::new(n, p, r).ok())
            .collect()
    }
}

/// Settings of the privacy layer. Every field documents its default.
#[derive(Clone)]
pub struct PrivacyConfig {
    secret: Vec<u8>,
    /// Dimensions whose values are hashed. Default: `user_id`, `session_id`.
    pub identifier_dimensions: Vec<String>,
    /// Dimensions holding the user id, searched by `forget_user`. Default: `user_id`.
    pub user_dimensions: Vec<String>,
    /// Rules applied to every other dimension value. Default: [`SanitizeRule::defaults`].
    pub sanitize: Vec<SanitizeRule>,
    /// How long each data class is kept; classes not listed are kept until the engine's
    /// own retention. Default: `user` 90 days, `security` 365 days.
    pub retention: BTreeMap<Source, Duration>,
}

impl PrivacyConfig {
    /// Adds the retention per data class to the engine's options as per-selector
    /// retention rules (`source = class`), so that [`sedimentdb::Db::apply_retention`] and
    /// the engine's maintenance thread enforce it (measured back from the newest point
    /// in the database, as all engine retention is). Use it when opening the `Db`:
    ///
    /// ```
    /// use sedimentdb::{Db, Options};
    /// use sedimentdb_collector::PrivacyConfig;
    /// let privacy = PrivacyConfig::with_secret("a secret of sixteen+ bytes").unwrap();
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Db::open(dir.path(), privacy.engine_retention(Options::default())).unwrap();
    /// ```
    pub fn engine_retention(&self, mut options: sedimentdb::Options) -> sedimentdb::Options {
        for (source, keep) in &self.retention {
            let selector = sedimentdb::Selector::any()
                .with(sedimentdb::Matcher::eq("source", source.as_str()));
            options = options.retention_for(selector, *keep);
        }
        options
    }
}

impl fmt::Debug for PrivacyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivacyConfig")
            .field("secret", &"<hidden>")
            .field("identifier_dimensions", &self.identifier_dimensions)
            .field("user_dimensions", &self.user_dimensions)
            .field(
                "sanitize",
                &self.sanitize.iter().map(|r| &r.name).collect::<Vec<_>>(),
            )
            .field("retention", &self.retention)
            .finish()
    }
}

impl PrivacyConfig {
    /// Defaults with this secret (at least 16 bytes; read it from the service's
    /// configuration or secret store, never hard-code it).
    pub fn with_secret(secret: impl AsRef<[u8]>) -> Result<Self, CollectorError> {
        let secret = secret.as_ref();
        if secret.len() < 16 {
            return Err(CollectorError::Config(
                "the privacy secret must be at least 16 bytes".into(),
            ));
        }
        Ok(PrivacyConfig {
            secret: secret.to_vec(),
            identifier_dimensions: vec!["user_id".into(), "session_id".into()],
            user_dimensions: vec!["user_id".into()],
            sanitize: SanitizeRule::defaults(),
            retention: [
                (Source::User, Duration::from_secs(90 * 86_400)),
                (Source::Security, Duration::from_secs(365 * 86_400)),
            ]
            .into_iter()
            .collect(),
        })
    }
}

/// The privacy stage, built from a [`PrivacyConfig`].
///
/// ```
/// use sedimentdb_collector::{Privacy, PrivacyConfig};
/// let p = Privacy::new(PrivacyConfig::with_secret("a secret of sixteen+ bytes").unwrap());
/// let h = p.hash_identifier("alice@example.com");
/// assert!(h.starts_with("h:") && h.len() == 34);
/// assert_eq!(h, p.hash_identifier("alice@example.com"));
/// assert_eq!(p.sanitize("mail alice@example.com now"), "mail <email> now");
/// ```
pub struct Privacy {
    key: [u8; 32],
    identifiers: Vec<String>,
    users: Vec<String>,
    rules: Vec<SanitizeRule>,
    retention: BTreeMap<Source, Duration>,
}

impl fmt::Debug for Privacy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Privacy")
            .field("key", &"<hidden>")
            .field("identifiers", &self.identifiers)
            .finish()
    }
}

impl Privacy {
    /// Derives the hashing key; the secret itself is dropped.
    pub fn new(config: PrivacyConfig) -> Self {
        Privacy {
            key: blake3::derive_key(KDF_CONTEXT, &config.secret),
            identifiers: config.identifier_dimensions,
            users: config.user_dimensions,
            rules: config.sanitize,
            retention: config.retention,
        }
    }

    /// `h:` + 128 bits of keyed BLAKE3 of `value`, in hex.
    pub fn hash_identifier(&self, value: &str) -> String {
        let hash = blake3::keyed_hash(&self.key, value.as_bytes());
        let mut out = String::with_capacity(HASH_PREFIX.len() + 32);
        out.push_str(HASH_PREFIX);
        for b in &hash.as_bytes()[..16] {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }

    /// True when `key` is an identifier dimension.
    pub fn is_identifier(&self, key: &str) -> bool {
        self.identifiers.iter().any(|k| k == key)
    }

    /// The dimensions `forget_user` searches.
    pub fn user_dimensions(&self) -> &[String] {
        &self.users
    }

    /// Retention per data class.
    pub fn retention(&self) -> &BTreeMap<Source, Duration> {
        &self.retention
    }

    /// Applies every sanitisation rule to a value.
    pub fn sanitize<'a>(&self, value: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(value);
        for rule in &self.rules {
            if rule.pattern.is_match(&out) {
                out = Cow::Owned(
                    rule.pattern
                        .replace_all(&out, rule.replacement.as_str())
                        .into_owned(),
                );
            }
        }
        out
    }

    /// The stored form of one dimension value: hashed for identifiers, sanitised
    /// otherwise. A value that is already a hash is kept (so that stored values can be
    /// fed back, e.g. by a migration or a query built from a result).
    pub fn protect<'a>(&self, key: &str, value: &'a str) -> Cow<'a, str> {
        if self.is_identifier(key) {
            if is_hashed(value) {
                Cow::Borrowed(value)
            } else {
                Cow::Owned(self.hash_identifier(value))
            }
        } else {
            self.sanitize(value)
        }
    }

    /// Protects every value of a dimension list in place.
    pub fn apply(&self, dims: &mut [(String, String)]) {
        for (k, v) in dims.iter_mut() {
            if let Cow::Owned(new) = self.protect(k, v) {
                *v = new;
            }
        }
    }
}

/// True for a value of the form `h:` + 32 lowercase hex digits.
pub fn is_hashed(value: &str) -> bool {
    value.len() == HASH_PREFIX.len() + 32
        && value.starts_with(HASH_PREFIX)
        && value[HASH_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn privacy(secret: &str) -> Privacy {
        Privacy::new(PrivacyConfig::with_secret(secret).unwrap())
    }

    #[test]
    fn hashes_depend_on_the_key_and_are_stable() {
        let a = privacy("first secret, sixteen bytes");
        let b = privacy("second secret, sixteen bytes");
        assert_eq!(a.hash_identifier("u1"), a.hash_identifier("u1"));
        assert_ne!(a.hash_identifier("u1"), a.hash_identifier("u2"));
        assert_ne!(a.hash_identifier("u1"), b.hash_identifier("u1"));
        assert!(is_hashed(&a.hash_identifier("u1")));
        assert!(PrivacyConfig::with_secret("short").is_err());
        assert!(!format!(
            "{:?}",
            PrivacyConfig::with_secret("first secret, sixteen bytes").unwrap()
        )
        .contains("first secret"));
    }

    #[test]
    fn identifiers_are_hashed_and_other_values_sanitised() {
        let p = privacy("first secret, sixteen bytes");
        let mut dims = vec![
            ("user_id".to_string(), "alice".to_string()),
            ("session_id".to_string(), "s-123".to_string()),
            ("command".to_string(), "login bob@corp.io".to_string()),
            ("header".to_string(), "Bearer abc.def-123".to_string()),
            ("url".to_string(), "/x?token=sk_live_123&y=1".to_string()),
            (
                "jwt".to_string(),
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig_nature".to_string(),
            ),
            (
                "digest".to_string(),
                "0123456789abcdef0123456789abcdef".to_string(),
            ),
            ("host".to_string(), "web-1".to_string()),
        ];
        p.apply(&mut dims);
        assert_eq!(dims[0].1, p.hash_identifier("alice"));
        assert_eq!(dims[1].1, p.hash_identifier("s-123"));
        assert_eq!(dims[2].1, "login <email>");
        assert_eq!(dims[3].1, "<token>");
        assert_eq!(dims[4].1, "/x?token=<redacted>&y=1");
        assert_eq!(dims[5].1, "<token>");
        assert_eq!(dims[6].1, "<token>");
        assert_eq!(dims[7].1, "web-1");
        // Already-hashed values pass through unchanged.
        let h = p.hash_identifier("alice");
        assert_eq!(p.protect("user_id", &h), h);
    }
}
