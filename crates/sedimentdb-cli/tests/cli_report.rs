//! `sediment report` and `sediment dashboard --once` end to end: the real binary on
//! gen.py's dataset imported by `sediment import`, read while a writer holds the database
//! open (and has written a spike since), `--selector` choosing the series; figures
//! compared with the engine's typed API.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sedimentdb::{Aggregate, Db, Options, Query, Selector, SeriesKey, TimeRange, WriteBatch};
use serde_json::Value;

const HOSTS: usize = 3;
const HOURS: i64 = 6;
/// gen.py's default start, 2016-01-01T00:00:00Z.
const START_S: i64 = 1_451_606_400;
const SEC: i64 = 1_000_000_000;
/// The spike the writer adds: host_0's cpu_usage_user, between two generated points.
const SPIKE_TS: i64 = (START_S + 3 * 3600 + 5) * SEC;
/// Far outside gen.py's [0, 100]: its 2-minute bucket is the most unusual whatever
/// the random walk around it does.
const SPIKE: f64 = 5000.0;
const PERIOD: [&str; 4] = [
    "--start",
    "2016-01-01T00:00:00Z",
    "--end",
    "2016-01-01T06:00:00Z",
];

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

fn ok_stdout(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(out.status.success(), "status {:?}", out.status);
    String::from_utf8(out.stdout).unwrap()
}

/// `../shared/bench/gen.py` beside the repository.
fn gen_py() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/gen.py")
}

/// A database imported from gen.py's line protocol by `sediment import`, then held open
/// by a writer that has added [`SPIKE`] (in its WAL and head, not flushed).
fn imported_with_writer(dir: &Path) -> (PathBuf, Db) {
    let lp = dir.join("cpu.lp");
    let out = Command::new("python3")
        .arg(gen_py())
        .args(["--hosts", &HOSTS.to_string(), "--hours", &HOURS.to_string()])
        .args(["--format", "influx", "--out"])
        .arg(&lp)
        .output()
        .expect("python3 runs gen.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = dir.join("db");
    let out = run(sediment(&db)
        .arg("import")
        .arg(&lp)
        .args(["--precision", "s"]));
    assert!(out.status.success());
    let writer = Db::open(&db, Options::default()).unwrap();
    let host0 = host0_key(&writer);
    let mut batch = WriteBatch::new();
    batch.push_key(&host0, SPIKE_TS, SPIKE);
    writer.write(&batch).unwrap();
    (db, writer)
}

/// host_0's cpu_usage_user key, with all of gen.py's tags.
fn host0_key(db: &Db) -> SeriesKey {
    let selector: Selector = r#"cpu_usage_user{hostname="host_0"}"#.parse().unwrap();
    let keys = db.list_series(&selector).unwrap();
    assert_eq!(keys.len(), 1);
    (*keys[0]).clone()
}

/// One figure over every series `selector` matches in the period, by the typed API.
fn typed(db: &Db, selector: &str, agg: Aggregate) -> f64 {
    let range = TimeRange::new(START_S * SEC, (START_S + HOURS * 3600) * SEC);
    let q = Query::select(selector.parse::<Selector>().unwrap())
        .range(range)
        .aggregate(agg)
        .group_all();
    db.query(&q).unwrap().series[0].values[0]
}

fn close_to(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn report_beside_a_writer_with_a_selector_agrees_with_the_typed_api() {
    let dir = tempfile::tempdir().unwrap();
    let (db, writer) = imported_with_writer(dir.path());
    let selector = r#"cpu_usage_user{hostname=~"host_[01]"}"#;

    let json = ok_stdout(sediment(&db).arg("report").args(PERIOD).args([
        "--selector",
        selector,
        "--format",
        "json",
    ]));
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["schema"], "sedimentdb-report/1");
    assert_eq!(report["selector"], selector);
    let metrics = report["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 1, "only the selected metric");
    let m = &metrics[0];
    assert_eq!(m["name"], "cpu_usage_user");
    assert_eq!(m["series"], 2, "host_0 and host_1, not host_2");
    let h = &m["headline"];
    // 6 h of 10 s points for two hosts, plus the writer's unflushed spike.
    assert_eq!(h["points"], 2 * HOURS * 360 + 1);
    assert_eq!(h["max"], SPIKE, "the writer's unflushed point is seen");
    for (field, agg) in [
        ("min", Aggregate::Min),
        ("avg", Aggregate::Avg),
        ("max", Aggregate::Max),
    ] {
        let want = typed(&writer, selector, agg);
        let got = h[field].as_f64().unwrap();
        assert!(close_to(got, want), "{field}: report {got}, typed {want}");
    }
    // The spike is the most unusual bucket, on host_0, in the bucket holding it.
    let top = &m["anomalies"][0];
    assert!(
        top["series"]
            .as_str()
            .unwrap()
            .contains(r#"hostname="host_0""#),
        "{top}"
    );
    assert!(
        top["ts"]
            .as_str()
            .unwrap()
            .starts_with("2016-01-01T03:00:00"),
        "{top}"
    );
    assert!(top["score"].as_f64().unwrap() > 3.0, "{top}");

    // The other formats carry the same metric; HTML has one timeline chart per metric.
    let text = ok_stdout(
        sediment(&db)
            .arg("report")
            .args(PERIOD)
            .args(["--selector", selector]),
    );
    assert!(text.contains("== cpu_usage_user · 2 series"), "{text}");
    assert!(!text.contains("cpu_usage_idle"), "{text}");
    let md = ok_stdout(sediment(&db).arg("report").args(PERIOD).args([
        "--selector",
        selector,
        "--format",
        "markdown",
    ]));
    assert!(md.contains("cpu_usage_user"), "{md}");
    let html_path = dir.path().join("report.html");
    let out = run(sediment(&db)
        .arg("report")
        .args(PERIOD)
        .args(["--format", "html", "--out"])
        .arg(&html_path));
    assert!(out.status.success());
    assert!(out.stdout.is_empty(), "--out writes the file, not stdout");
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert_eq!(html.matches("class=\"chart timeline\"").count(), 10);

    // --last with --now is the same period as --start/--end.
    let json_last = ok_stdout(sediment(&db).arg("report").args([
        "--last",
        "6h",
        "--now",
        "2016-01-01T06:00:00Z",
        "--selector",
        selector,
        "--format",
        "json",
    ]));
    let last: Value = serde_json::from_str(&json_last).unwrap();
    assert_eq!(last["metrics"][0]["headline"]["max"], SPIKE);

    // The writer is still the writer: it can write after the reports.
    let mut batch = WriteBatch::new();
    batch.push_key(&host0_key(&writer), SPIKE_TS + SEC, 1.0);
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

#[test]
fn a_type_narrowed_by_a_selector_to_nothing_and_bad_selectors() {
    let dir = tempfile::tempdir().unwrap();
    let (db, writer) = imported_with_writer(dir.path());
    // gen.py's points carry no `source` dimension: a performance report is empty.
    let json = ok_stdout(sediment(&db).arg("report").args(PERIOD).args([
        "--type",
        "performance",
        "--format",
        "json",
    ]));
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["metrics"].as_array().unwrap().len(), 0);
    assert_eq!(report["summary"]["points"], 0);

    for args in [
        vec!["report", "--selector", "cpu{"],
        vec!["dashboard", "--once", "--selector", r#"{a="b" c="d"}"#],
    ] {
        let out = run(sediment(&db).args(&args));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("bad selector"), "{err}");
    }
    writer.close().unwrap();
}

#[test]
fn dashboard_once_beside_a_writer_shows_only_the_selected_series() {
    let dir = tempfile::tempdir().unwrap();
    let (db, writer) = imported_with_writer(dir.path());
    let now = ["--now", "2016-01-01T06:00:00Z", "--window", "6h"];
    let json = ok_stdout(sediment(&db).args(["dashboard", "--once"]).args(now).args([
        "--selector",
        r#"{hostname="host_2"}"#,
        "--format",
        "json",
    ]));
    let data: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(data["schema"], "sedimentdb-dashboard/1");
    let panels = data["panels"].as_array().unwrap();
    let kinds: Vec<&str> = panels.iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "metric",
            "metric",
            "metric",
            "metric",
            "alerts",
            "anomalies",
            "topk",
            "recommendations"
        ]
    );
    for p in panels.iter().filter(|p| p["kind"] == "metric") {
        assert_eq!(p["series"], 1, "{p}");
        let selector = format!(r#"{}{{hostname="host_2"}}"#, p["metric"].as_str().unwrap());
        let want = typed(&writer, &selector, Aggregate::Avg);
        let got = p["avg"].as_f64().unwrap();
        assert!(close_to(got, want), "{selector}: {got} vs {want}");
    }
    let top = panels[6]["series"].as_array().unwrap();
    assert_eq!(top.len(), 1);
    assert!(top[0]["series"]
        .as_str()
        .unwrap()
        .contains(r#"hostname="host_2""#));

    // Without a selector the top-k panel ranks all three hosts by their mean.
    let json = ok_stdout(sediment(&db).args(["dashboard", "--once"]).args(now));
    let data: Value = serde_json::from_str(&json).unwrap();
    let topk = data["panels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "topk")
        .unwrap();
    let values: Vec<f64> = topk["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["value"].as_f64().unwrap())
        .collect();
    assert_eq!(values.len(), HOSTS);
    assert!(values.windows(2).all(|w| w[0] >= w[1]), "{values:?}");

    // A layout panel naming a metric the selector excludes is refused, in one line.
    let layout = dir.path().join("dash.toml");
    std::fs::write(
        &layout,
        "[[panel]]\nkind = \"metric\"\nmetric = \"cpu_usage_idle\"\n",
    )
    .unwrap();
    let out = run(sediment(&db)
        .args(["dashboard", "--once"])
        .args(now)
        .args(["--selector", "cpu_usage_user", "--layout"])
        .arg(&layout));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("cpu_usage_idle"), "{err}");

    // The text screen has the layout's panel with its current value.
    let screen = ok_stdout(
        sediment(&db)
            .args(["dashboard", "--once", "--format", "text"])
            .args(now)
            .arg("--layout")
            .arg(&layout),
    );
    assert!(screen.contains("cpu_usage_idle · "), "{screen}");
    writer.close().unwrap();
}
