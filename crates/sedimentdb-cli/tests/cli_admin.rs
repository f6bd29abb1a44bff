//! The admin commands on real databases: `verify` (status 1 and the file and offset on
//! damage), `compact`, `retention`, `delete` (refuses without --yes when it cannot ask),
//! and the one clear line when a service holds the database open.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use sedimentdb::{Db, Options, Query, SeriesKey, WriteBatch};

const HOUR: i64 = 3_600_000_000_000;

fn sediment(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sediment"))
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// All points [`make`] writes.
const TOTAL: usize = 2 * 48 * 60 + 60;

/// 48 hours of one point a minute for hosts a and b, flushed in two pieces, then an hour
/// of host c at the start, flushed on its own (so the first partition has two segments).
fn make(dir: &Path) {
    let db = Db::open(dir, Options::default().max_future(None)).unwrap();
    for half in 0..2i64 {
        let mut batch = WriteBatch::new();
        for host in ["a", "b"] {
            let key = SeriesKey::new("cpu").with("host", host);
            for m in 0..(24 * 60) {
                let ts = half * 24 * HOUR + m * 60_000_000_000;
                batch.push_key(&key, ts, m as f64);
            }
        }
        db.write(&batch).unwrap();
        db.flush().unwrap();
    }
    let mut batch = WriteBatch::new();
    let key = SeriesKey::new("cpu").with("host", "c");
    for m in 0..60i64 {
        batch.push_key(&key, m * 60_000_000_000, 1.0);
    }
    db.write(&batch).unwrap();
    db.flush().unwrap();
    db.close().unwrap();
}

fn points(dir: &Path, query: Query) -> usize {
    let db = Db::open_read_only(dir, Options::default()).unwrap();
    db.query(&query)
        .unwrap()
        .series
        .iter()
        .map(|s| s.values.len())
        .sum()
}

#[test]
fn verify_is_clean_then_names_the_damaged_file_with_status_1() {
    let dir = tempfile::tempdir().unwrap();
    make(dir.path());
    let out = sediment(dir.path(), &["verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("no damage"), "{}", text(&out));

    let seg = std::fs::read_dir(dir.path().join("segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "seg"))
        .unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let mid = bytes.len() / 3;
    bytes[mid] ^= 0x40;
    std::fs::write(&seg, bytes).unwrap();
    let out = sediment(dir.path(), &["verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = text(&out);
    let name = seg.file_name().unwrap().to_str().unwrap();
    assert!(
        report.contains(name) && report.contains("offset"),
        "{report}"
    );
    let json = sediment(dir.path(), &["verify", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["damaged"].as_array().unwrap().len(), 1);
}

#[test]
fn compact_merges_and_retention_drops_what_is_older_than_keep() {
    let dir = tempfile::tempdir().unwrap();
    make(dir.path());
    let before = Db::open_read_only(dir.path(), Options::default())
        .unwrap()
        .stats()
        .segments;
    let out = sediment(dir.path(), &["compact", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["partitions"].as_u64().unwrap() >= 1, "{report}");
    let after = Db::open_read_only(dir.path(), Options::default())
        .unwrap()
        .stats()
        .segments;
    assert!(after < before, "{before} -> {after} segments");
    assert_eq!(points(dir.path(), Query::metric("cpu")), TOTAL);

    // Keep 12 h counted from the newest point: the first day's segments go.
    let out = sediment(dir.path(), &["retention", "--keep", "12h", "--from-newest"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("dropped"), "{}", text(&out));
    let left = points(dir.path(), Query::metric("cpu"));
    assert!((2 * 12 * 60..TOTAL).contains(&left), "{left} points left");
    assert_eq!(
        points(dir.path(), Query::metric("cpu").between(0, 24 * HOUR)),
        0
    );
    let bad = sediment(dir.path(), &["retention", "--keep", "soon"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
}

#[test]
fn delete_needs_yes_without_a_terminal_and_deletes_only_the_selection() {
    let dir = tempfile::tempdir().unwrap();
    make(dir.path());
    let out = sediment(dir.path(), &["delete", "cpu{host=\"a\"}"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--yes"), "{}", text(&out));
    assert_eq!(
        points(dir.path(), Query::metric("cpu")),
        TOTAL,
        "nothing deleted"
    );

    let end = (24 * HOUR).to_string();
    let out = sediment(
        dir.path(),
        &["delete", "cpu{host=\"a\"}", "--end", &end, "--yes"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let a = sedimentdb::Matcher::eq("host", "a");
    assert_eq!(points(dir.path(), Query::metric("cpu").filter(a)), 24 * 60);
    let b = sedimentdb::Matcher::eq("host", "b");
    assert_eq!(points(dir.path(), Query::metric("cpu").filter(b)), 48 * 60);

    let out = sediment(dir.path(), &["delete", "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a delete of everything needs a selector: {}",
        text(&out)
    );
}

#[test]
fn writing_commands_say_when_a_service_holds_the_database() {
    let dir = tempfile::tempdir().unwrap();
    make(dir.path());
    let _service = Db::open(dir.path(), Options::default().max_future(None)).unwrap();
    for args in [
        &["compact"][..],
        &["retention", "--keep", "1h"],
        &["delete", "cpu", "--yes"],
    ] {
        let out = sediment(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains("another process"), "{args:?}: {err}");
    }
    // verify only reads: it works beside the service.
    let out = sediment(dir.path(), &["verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn explain_says_how_a_query_runs_without_answering_it() {
    let dir = tempfile::tempdir().unwrap();
    make(dir.path());
    let out = sediment(
        dir.path(),
        &[
            "explain",
            "cpu{host=\"a\"}",
            "--start",
            "0",
            "--end",
            &(48 * HOUR).to_string(),
            "--step",
            "1h",
            "--agg",
            "max",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["series_matched"], 1, "{v}");
    let text_out = sediment(dir.path(), &["explain", "--metric", "cpu"]);
    assert_eq!(text_out.status.code(), Some(0), "{}", text(&text_out));
    assert!(!text_out.stdout.is_empty());
    let none = sediment(dir.path(), &["explain", "--metric", "nope"]);
    assert_eq!(none.status.code(), Some(2), "{}", text(&none));
}
