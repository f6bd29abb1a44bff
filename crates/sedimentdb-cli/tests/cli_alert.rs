//! `sediment alert` end to end on gen.py's dataset: exit statuses 0 / 1 / 2, which
//! groups fire (checked against maxima computed here from the raw points), a TOML rule
//! file through the collector's rule types, `--watch`, and bad rules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sedimentdb::{Db, Options, Selector, TimeRange};
use serde_json::Value;

const S: i64 = 1_000_000_000;

fn sediment(db: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sediment"));
    cmd.arg("--db").arg(db);
    cmd
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn database(dir: &Path) -> PathBuf {
    let file = dir.join("data.lp");
    let gen = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/gen.py");
    let out = Command::new("python3")
        .arg(gen)
        .args([
            "--hosts", "4", "--hours", "1", "--format", "influx", "--out",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let db = dir.join("db");
    let out = run(sediment(&db)
        .arg("import")
        .arg(&file)
        .args(["--precision", "s"]));
    assert_eq!(out.status.code(), Some(0));
    db
}

/// Per host: the max of cpu_usage_user over the last 10 minutes of the data, and "now"
/// (the newest point).
fn window_max(db: &Path) -> (BTreeMap<String, f64>, i64) {
    let db = Db::open_read_only(db, Options::default()).unwrap();
    let all: Vec<_> = db
        .select(&Selector::metric("cpu_usage_user"), TimeRange::all())
        .unwrap()
        .map(|s| s.unwrap())
        .collect();
    let now = all
        .iter()
        .map(|s| s.iter().last().unwrap().0)
        .max()
        .unwrap();
    let maxima = all
        .iter()
        .map(|s| {
            let host = s.key.dimension("hostname").unwrap().to_string();
            let max = s
                .iter()
                .filter(|p| p.0 >= now - 600 * S)
                .map(|p| p.1)
                .fold(f64::MIN, f64::max);
            (host, max)
        })
        .collect();
    (maxima, now)
}

fn threshold(db: &Path, expr: &str) -> Output {
    run(sediment(db).args([
        "alert",
        "--threshold",
        expr,
        "--window",
        "10m",
        "--group-by",
        "hostname",
        "--now",
        "latest",
        "--format",
        "json",
    ]))
}

#[test]
fn exit_status_says_whether_anything_fires_and_the_right_group_does() {
    let tmp = tempfile::tempdir().unwrap();
    let db = database(tmp.path());
    let (maxima, now) = window_max(&db);
    let (top_host, top) = maxima
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(h, m)| (h.clone(), *m))
        .unwrap();
    let second = maxima
        .values()
        .copied()
        .filter(|m| *m < top)
        .fold(f64::MIN, f64::max);
    let between = (top + second) / 2.0;

    // Only the host with the highest maximum is above the midpoint: status 1.
    let out = threshold(&db, &format!("max(cpu_usage_user) > {between}"));
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["now"], now);
    assert_eq!(doc["firing"], 1);
    let evals = doc["evaluations"].as_array().unwrap();
    assert_eq!(evals.len(), maxima.len());
    let firing: Vec<&Value> = evals.iter().filter(|e| e["firing"] == true).collect();
    assert_eq!(firing[0]["labels"]["hostname"], top_host.as_str());
    assert_eq!(firing[0]["value"].as_f64().unwrap(), top);

    // Above every maximum: nothing fires, status 0.
    let out = threshold(&db, &format!("max(cpu_usage_user) > {top}"));
    assert_eq!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["firing"], 0);

    // The table names the firing group.
    let out = run(sediment(&db).args([
        "alert",
        "--threshold",
        &format!("max(cpu_usage_user) > {between}"),
        "--window",
        "10m",
        "--group-by",
        "hostname",
        "--now",
        "latest",
    ]));
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("1 firing of 4 evaluated"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("FIRING") && l.contains(&format!("hostname={top_host}"))),
        "{text}"
    );
}

#[test]
fn a_rule_file_in_the_collectors_format() {
    let tmp = tempfile::tempdir().unwrap();
    let db = database(tmp.path());
    let (maxima, _) = window_max(&db);
    let low = maxima.values().copied().fold(f64::MAX, f64::min) - 1.0;
    let rules = tmp.path().join("rules.toml");
    std::fs::write(
        &rules,
        format!(
            r#"
[[rule]]
name = "busy"
metric = "cpu_usage_user"
kind = "threshold"
aggregate = "max"
op = ">"
value = {low}
window = "10m"
severity = "critical"
group_by = ["hostname"]

[[rule]]
name = "impossible"
metric = "cpu_usage_user"
kind = "threshold"
aggregate = "min"
op = "<"
value = -1.0
window = "10m"
"#
        ),
    )
    .unwrap();
    let out = run(sediment(&db)
        .args(["alert", "--now", "latest", "--format", "json", "--rules"])
        .arg(&rules));
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["firing"],
        maxima.len(),
        "every host is above the lowest max"
    );
    let evals = doc["evaluations"].as_array().unwrap();
    assert_eq!(evals.len(), maxima.len() + 1);
    let last = &evals[evals.len() - 1];
    assert_eq!(last["rule"], "impossible");
    assert_eq!(last["firing"], false);

    // A broken rule file: one line, status 2.
    std::fs::write(&rules, "[[rule]]\nname = \"x\"\nkind = \"threshold\"\n").unwrap();
    let out = run(sediment(&db).args(["alert", "--rules"]).arg(&rules));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("rules.toml"), "{err}");
}

#[test]
fn bad_rules_and_a_missing_database_are_status_2() {
    let tmp = tempfile::tempdir().unwrap();
    let db = database(tmp.path());
    for (args, needle) in [
        (&["--threshold", "cpu_usage_user = 3"][..], "no comparison"),
        (
            &["--threshold", "p7(cpu_usage_user) > 3"][..],
            "unknown aggregate",
        ),
        (&["--threshold", "cpu_usage_user > x"][..], "not a number"),
        (
            &["--anomaly", "cpu_usage_user", "--window", "soon"][..],
            "not a duration",
        ),
        (&[][..], "required"),
    ] {
        let out = run(sediment(&db).arg("alert").args(args));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let out = run(sediment(&tmp.path().join("none")).args(["alert", "--threshold", "m > 1"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn watch_evaluates_again() {
    let tmp = tempfile::tempdir().unwrap();
    let db = database(tmp.path());
    let mut child = sediment(&db)
        .args([
            "alert",
            "--threshold",
            "cpu_usage_user > 1000",
            "--now",
            "latest",
            "--watch",
            "300ms",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let rounds = text.lines().filter(|l| l.contains("0 firing of")).count();
    assert!(rounds >= 2, "{text}");
}
