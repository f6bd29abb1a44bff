//! The binary's basics: help, exit statuses, stats on a real database, one-line errors.

use std::process::Command;

use sedimentdb::{Db, Options, SeriesKey, WriteBatch};

fn sediment() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sediment"))
}

#[test]
fn help_names_the_exit_statuses_and_every_command_has_an_example() {
    let out = sediment().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("Exit status: 0"), "{help}");
    for cmd in [
        "stats",
        "completions",
        "series",
        "import",
        "export",
        "query",
        "explain",
        "verify",
        "compact",
        "retention",
        "delete",
    ] {
        let out = sediment().args([cmd, "--help"]).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("Example"),
            "{cmd} --help has no example:\n{text}"
        );
    }
}

#[test]
fn stats_of_a_database_in_json() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let mut batch = WriteBatch::new();
        for i in 0..100 {
            batch.push_key(
                &SeriesKey::new("cpu").with("host", "a"),
                i * 1_000_000_000,
                i as f64,
            );
        }
        db.write(&batch).unwrap();
        db.flush().unwrap();
        db.close().unwrap();
    }
    let out = sediment()
        .args([
            "--db",
            dir.path().to_str().unwrap(),
            "stats",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["series"], 1);
    assert_eq!(stats["segment_points"], 100);
}

#[test]
fn a_missing_database_is_one_line_and_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    let out = sediment()
        .args(["--db", missing.to_str().unwrap(), "stats"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("no database at") && err.contains("--db"),
        "{err}"
    );
    assert!(!missing.exists(), "a reading command created a database");
}

#[test]
fn completions_for_bash_mention_the_commands() {
    let out = sediment().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(script.contains("stats"));
}

#[test]
fn series_beside_a_writer_and_a_bad_selector_with_its_column() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut batch = WriteBatch::new();
    for host in ["web-1", "web-2", "db-1"] {
        batch.push_key(&SeriesKey::new("cpu").with("host", host), 1, 1.0);
    }
    db.write(&batch).unwrap();
    // The writer keeps the database open (and locked); the CLI reads it read-only.
    let out = sediment()
        .args([
            "--db",
            dir.path().to_str().unwrap(),
            "series",
            r#"cpu{host=~"web-.*"}"#,
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hosts: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["dimensions"]["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["web-1", "web-2"]);

    let out = sediment()
        .args([
            "--db",
            dir.path().to_str().unwrap(),
            "series",
            r#"cpu{host="a" region="b"}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("bad selector") && err.contains("column 14"),
        "{err}"
    );
    db.close().unwrap();
}
