//! The audit log: an append-only, checksummed record of who read what through the
//! collector, and whether it was allowed.
//!
//! # Format
//! One JSON object per line (UTF-8, `\n`-terminated), fields in this order:
//!
//! ```json
//! {"seq":1,"ts":"2024-05-01T12:00:00Z","who":"ana","role":"analyst","action":"query",
//!  "what":"count of clicks{source=\"user\"} by [command]","decision":"allowed",
//!  "reason":null,"chain":"9f2c…(64 hex digits)"}
//! ```
//!
//! `chain` = BLAKE3(previous line's chain as 32 bytes ‖ this line's bytes up to the
//! `,"chain"` field), with 32 zero bytes before the first line. It is a checksum of the
//! line and of the whole history before it: editing, removing or reordering any line
//! breaks every chain after it. `seq` counts from 1 without gaps.
//!
//! Appends are written with one `write` and made durable (fdatasync) before the audited
//! operation runs. On open, a last line without its newline (a torn append, never
//! acknowledged) is cut off; any other damage is reported as
//! [`CollectorError::Corrupt`] with its line number, and the log refuses appends.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::access::{Principal, Role};
use super::error::CollectorError;
use super::event::rfc3339;
use sedimentdb::Timestamp;

/// Allowed or denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditDecision {
    /// The operation ran.
    Allowed,
    /// The operation was refused.
    Denied,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the log, from 1.
    pub seq: u64,
    /// When (RFC 3339 in the file).
    #[serde(with = "rfc3339")]
    pub ts: Timestamp,
    /// The principal's name.
    pub who: String,
    /// The principal's role.
    pub role: Role,
    /// `query`, `export`, `forget_user`, `apply_retention`, `read_audit`, ...
    pub action: String,
    /// The query or target, as text (identifier values already hashed).
    pub what: String,
    /// Allowed or denied.
    pub decision: AuditDecision,
    /// Why it was denied (or a note, e.g. that the query was narrowed).
    pub reason: Option<String>,
    /// Chained checksum (see the module documentation).
    pub chain: String,
}

/// The record without its chain: the bytes the chain covers.
#[derive(Serialize)]
struct Body<'a> {
    seq: u64,
    #[serde(with = "rfc3339")]
    ts: Timestamp,
    who: &'a str,
    role: Role,
    action: &'a str,
    what: &'a str,
    decision: AuditDecision,
    reason: &'a Option<String>,
}

impl AuditRecord {
    fn body_json(&self) -> String {
        let body = Body {
            seq: self.seq,
            ts: self.ts,
            who: &self.who,
            role: self.role,
            action: &self.action,
            what: &self.what,
            decision: self.decision,
            reason: &self.reason,
        };
        serde_json::to_string(&body).unwrap_or_default()
    }
}

fn chain_of(prev: &[u8; 32], body_json: &str) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(prev);
    // The chain covers the line up to (not including) the closing brace.
    h.update(&body_json.as_bytes()[..body_json.len().saturating_sub(1)]);
    *h.finalize().as_bytes()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Which records [`AuditLog::records`] returns; unset fields match everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    /// Only this principal.
    pub who: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// Only this decision.
    pub decision: Option<AuditDecision>,
    /// Only records at or after this time.
    pub since: Option<Timestamp>,
}

impl AuditFilter {
    fn matches(&self, r: &AuditRecord) -> bool {
        self.who.as_ref().is_none_or(|w| *w == r.who)
            && self.action.as_ref().is_none_or(|a| *a == r.action)
            && self.decision.is_none_or(|d| d == r.decision)
            && self.since.is_none_or(|s| r.ts >= s)
    }
}

struct Tail {
    seq: u64,
    chain: [u8; 32],
    file: Option<File>,
    memory: Vec<String>,
}

/// The audit log: a file, or memory (for tests and tools; not durable).
pub struct AuditLog {
    path: Option<PathBuf>,
    tail: Mutex<Tail>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .finish()
    }
}

impl AuditLog {
    /// Opens (creating) the log at `path`, verifying every line and cutting off a torn
    /// last line.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CollectorError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| CollectorError::io("create directory", dir, e))?;
            }
        }
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(CollectorError::io("read", &path, e)),
        };
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let (records, chain) = verify_lines(&path, &bytes[..complete])?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| CollectorError::io("open", &path, e))?;
        if complete < bytes.len() {
            file.set_len(complete as u64)
                .map_err(|e| CollectorError::io("truncate torn tail", &path, e))?;
        }
        Ok(AuditLog {
            path: Some(path),
            tail: Mutex::new(Tail {
                seq: records.last().map_or(0, |r| r.seq),
                chain,
                file: Some(file),
                memory: Vec::new(),
            }),
        })
    }

    /// A log kept in memory.
    pub fn in_memory() -> Self {
        AuditLog {
            path: None,
            tail: Mutex::new(Tail {
                seq: 0,
                chain: [0; 32],
                file: None,
                memory: Vec::new(),
            }),
        }
    }

    /// The file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Appends one record durably and returns it.
    pub fn append(
        &self,
        ts: Timestamp,
        who: &Principal,
        action: &str,
        what: &str,
        decision: AuditDecision,
        reason: Option<String>,
    ) -> Result<AuditRecord, CollectorError> {
        let mut tail = self.tail.lock();
        let mut record = AuditRecord {
            seq: tail.seq + 1,
            ts,
            who: who.name.clone(),
            role: who.role,
            action: action.to_string(),
            what: what.to_string(),
            decision,
            reason,
            chain: String::new(),
        };
        let body = record.body_json();
        let chain = chain_of(&tail.chain, &body);
        record.chain = hex(&chain);
        let line = format!(
            "{},\"chain\":\"{}\"}}\n",
            &body[..body.len() - 1],
            record.chain
        );
        match (&mut tail.file, &self.path) {
            (Some(file), Some(path)) => {
                file.write_all(line.as_bytes())
                    .map_err(|e| CollectorError::io("append", path, e))?;
                file.sync_data()
                    .map_err(|e| CollectorError::io("fsync", path, e))?;
            }
            _ => tail.memory.push(line),
        }
        tail.seq = record.seq;
        tail.chain = chain;
        Ok(record)
    }

    /// Every record matching `filter`, after verifying the whole chain.
    pub fn records(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, CollectorError> {
        let tail = self.tail.lock();
        let (records, _) = match &self.path {
            Some(path) => {
                let bytes = std::fs::read(path).map_err(|e| CollectorError::io("read", path, e))?;
                verify_lines(path, &bytes)?
            }
            None => verify_lines(Path::new("<memory>"), tail.memory.concat().as_bytes())?,
        };
        Ok(records.into_iter().filter(|r| filter.matches(r)).collect())
    }

    /// Verifies a log file; returns its records.
    pub fn verify(path: impl AsRef<Path>) -> Result<Vec<AuditRecord>, CollectorError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| CollectorError::io("read", path, e))?;
        Ok(verify_lines(path, &bytes)?.0)
    }
}

/// Parses and checks complete lines; returns the records and the last chain.
fn verify_lines(path: &Path, bytes: &[u8]) -> Result<(Vec<AuditRecord>, [u8; 32]), CollectorError> {
    let corrupt = |line: usize, what: String| CollectorError::Corrupt {
        path: path.to_path_buf(),
        line,
        what,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| corrupt(0, format!("not UTF-8: {e}")))?;
    let mut chain = [0u8; 32];
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let record: AuditRecord =
            serde_json::from_str(line).map_err(|e| corrupt(n, format!("unreadable: {e}")))?;
        if record.seq != n as u64 {
            return Err(corrupt(
                n,
                format!("sequence number {} where {n} was due", record.seq),
            ));
        }
        let body = record.body_json();
        let want = chain_of(&chain, &body);
        if hex(&want) != record.chain {
            return Err(corrupt(n, "checksum chain broken".into()));
        }
        chain = want;
        records.push(record);
    }
    Ok((records, chain))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ana() -> Principal {
        Principal::new("ana", Role::Analyst)
    }

    #[test]
    fn records_chain_reopen_and_filter() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        {
            let log = AuditLog::open(&path).unwrap();
            log.append(1, &ana(), "query", "cpu", AuditDecision::Allowed, None)
                .unwrap();
            log.append(
                2,
                &ana(),
                "query",
                "security",
                AuditDecision::Denied,
                Some("no".into()),
            )
            .unwrap();
        }
        let log = AuditLog::open(&path).unwrap();
        let r = log
            .append(
                3,
                &Principal::new("root", Role::Admin),
                "read_audit",
                "*",
                AuditDecision::Allowed,
                None,
            )
            .unwrap();
        assert_eq!(r.seq, 3);
        assert_eq!(log.records(&AuditFilter::default()).unwrap().len(), 3);
        let denied = log
            .records(&AuditFilter {
                decision: Some(AuditDecision::Denied),
                ..AuditFilter::default()
            })
            .unwrap();
        assert_eq!(denied.len(), 1);
        assert_eq!(denied[0].what, "security");
        assert_eq!(AuditLog::verify(&path).unwrap().len(), 3);
    }

    #[test]
    fn tampering_is_detected_and_a_torn_tail_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&path).unwrap();
        for i in 0..3 {
            log.append(i, &ana(), "query", "cpu", AuditDecision::Allowed, None)
                .unwrap();
        }
        drop(log);
        let good = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{good}{{\"seq\":4,\"ts\"")).unwrap();
        assert_eq!(
            AuditLog::open(&path)
                .unwrap()
                .records(&AuditFilter::default())
                .unwrap()
                .len(),
            3
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), good);

        let edited = good.replacen("\"who\":\"ana\"", "\"who\":\"bob\"", 1);
        std::fs::write(&path, &edited).unwrap();
        let err = AuditLog::open(&path).unwrap_err();
        assert!(
            matches!(err, CollectorError::Corrupt { line: 1, .. }),
            "{err}"
        );

        let lines: Vec<&str> = good.lines().collect();
        std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[2])).unwrap();
        assert!(matches!(
            AuditLog::verify(&path),
            Err(CollectorError::Corrupt { line: 2, .. })
        ));
    }

    #[test]
    fn memory_log_is_queryable() {
        let log = AuditLog::in_memory();
        log.append(1, &ana(), "export", "x", AuditDecision::Allowed, None)
            .unwrap();
        assert_eq!(
            log.records(&AuditFilter::default()).unwrap()[0].action,
            "export"
        );
    }
}
