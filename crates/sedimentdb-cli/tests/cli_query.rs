//! `sediment query` end to end on gen.py's standard dataset (metric-event JSONL, so the
//! series carry a `unit` attribute): answers compared with figures computed here from
//! the raw points, every output format, the table on a real terminal (a pty from
//! `script`), NO_COLOR, bad input, and a query beside a process writing the database.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sedimentdb::{Db, Options, SeriesKey, TimeRange, WriteBatch};
use serde_json::Value;

const HOSTS: usize = 3;
const HOURS: usize = 2;
const S: i64 = 1_000_000_000;
/// gen.py's start, 2016-01-01T00:00:00Z.
const T0: i64 = 1_451_606_400 * S;

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

fn gen_py() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/gen.py")
}

/// A database imported (through the binary) from gen.py's JSONL.
fn database(dir: &Path) -> PathBuf {
    let file = dir.join("data.jsonl");
    let out = Command::new("python3")
        .arg(gen_py())
        .args(["--hosts", &HOSTS.to_string(), "--hours", &HOURS.to_string()])
        .args(["--format", "jsonl", "--out"])
        .arg(&file)
        .output()
        .expect("python3 runs gen.py");
    assert!(out.status.success());
    let db = dir.join("db");
    let out = run(sediment(&db).arg("import").arg(&file));
    assert_eq!(out.status.code(), Some(0));
    db
}

/// The raw points of one metric per host, read with the engine.
fn raw(db: &Path, metric: &str) -> BTreeMap<String, Vec<(i64, f64)>> {
    let db = Db::open_read_only(db, Options::default()).unwrap();
    let mut out = BTreeMap::new();
    for s in db
        .select(&sedimentdb::Selector::metric(metric), TimeRange::all())
        .unwrap()
    {
        let s = s.unwrap();
        let host = s.key.dimension("hostname").unwrap().to_string();
        out.insert(host, s.iter().collect());
    }
    out
}

fn json(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn values(series: &Value) -> Vec<f64> {
    series["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

#[test]
fn raw_downsampled_grouped_filtered_and_ranked_answers_match_the_points() {
    let tmp = tempfile::tempdir().unwrap();
    let db = database(tmp.path());
    let points = raw(&db, "cpu_usage_user");

    // One host's last 10 minutes of the data, raw.
    let doc = json(&run(sediment(&db).args([
        "query",
        r#"cpu_usage_user{hostname="host_1"}"#,
        "--now",
        "latest",
        "--last",
        "10m",
        "--format",
        "json",
    ])));
    let series = doc["series"].as_array().unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0]["unit"], "%");
    assert_eq!(series[0]["metric"], "cpu_usage_user");
    assert_eq!(series[0]["labels"]["hostname"], "host_1");
    let last = points["host_1"].last().unwrap().0;
    let expected: Vec<(i64, f64)> = points["host_1"]
        .iter()
        .copied()
        .filter(|p| p.0 >= last - 600 * S)
        .collect();
    assert_eq!(expected.len(), 61, "10 minutes at 10 s, both ends included");
    let ts: Vec<i64> = series[0]["timestamps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_i64().unwrap())
        .collect();
    assert_eq!(ts, expected.iter().map(|p| p.0).collect::<Vec<_>>());
    assert_eq!(
        values(&series[0]),
        expected.iter().map(|p| p.1).collect::<Vec<_>>()
    );
    assert_eq!(doc["end"], last + 1);

    // Max per 10 minutes over every host, as one group (group by a dimension all share).
    let doc = json(&run(sediment(&db).args([
        "query",
        "--metric",
        "cpu_usage_user",
        "--step",
        "10m",
        "--agg",
        "max",
        "--group-by",
        "source",
        "--format",
        "json",
    ])));
    let series = doc["series"].as_array().unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0]["labels"]["source"], "system");
    assert_eq!(series[0]["unit"], "%", "the group's series share one unit");
    assert_eq!(series[0]["series_count"], HOSTS);
    assert_eq!(doc["step_ns"], 600 * S);
    assert_eq!(doc["aggregate"], "max");
    let mut max = BTreeMap::<i64, f64>::new();
    for p in points.values().flatten() {
        let b = max
            .entry(p.0.div_euclid(600 * S) * 600 * S)
            .or_insert(f64::MIN);
        *b = b.max(p.1);
    }
    assert_eq!(max.len(), HOURS * 6);
    assert_eq!(
        values(&series[0]),
        max.values().copied().collect::<Vec<_>>()
    );

    // The busiest host by its peak minute, and only the minutes above 90.
    let doc = json(&run(sediment(&db).args([
        "query",
        "--metric",
        "cpu_usage_user",
        "--step",
        "1m",
        "--agg",
        "max",
        "--where",
        "> 90",
        "--top",
        "1",
        "--format",
        "json",
    ])));
    let series = doc["series"].as_array().unwrap();
    assert_eq!(series.len(), 1);
    let peak = |pts: &Vec<(i64, f64)>| pts.iter().map(|p| p.1).fold(f64::MIN, f64::max);
    let (busiest, _) = points
        .iter()
        .max_by(|a, b| peak(a.1).total_cmp(&peak(b.1)))
        .unwrap();
    assert_eq!(series[0]["labels"]["hostname"], busiest.as_str());
    let above: Vec<f64> = values(&series[0]);
    assert!(
        !above.is_empty() && above.iter().all(|v| *v > 90.0),
        "{above:?}"
    );

    // A whole-range p50 per host equals the median computed here (type 7).
    let doc = json(&run(sediment(&db).args([
        "query",
        "--metric",
        "cpu_usage_user",
        "--agg",
        "median",
        "--format",
        "json",
    ])));
    for s in doc["series"].as_array().unwrap() {
        let host = s["labels"]["hostname"].as_str().unwrap();
        let mut v: Vec<f64> = points[host].iter().map(|p| p.1).collect();
        v.sort_by(f64::total_cmp);
        let h = (v.len() - 1) as f64 * 0.5;
        let (lo, f) = (h.floor() as usize, h - h.floor());
        let median = v[lo] + f * (v[(lo + 1).min(v.len() - 1)] - v[lo]);
        assert_eq!(values(s), [median], "{host}");
    }
}

#[test]
fn jsonl_and_csv_carry_every_point_and_explain_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let db = database(tmp.path());
    let range = [
        "--start",
        "2016-01-01T01:00:00Z",
        "--end",
        "2016-01-01T01:01:00Z",
    ];
    let out = run(sediment(&db)
        .args(["query", "--metric", "cpu_usage_idle", "--format", "jsonl"])
        .args(range));
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), HOSTS * 6);
    assert!(rows.iter().all(|r| r["metric"] == "cpu_usage_idle"
        && r["unit"] == "%"
        && r["ts"].as_i64().unwrap() >= T0 + 3600 * S));

    let out = run(sediment(&db)
        .args(["query", "--metric", "cpu_usage_idle", "--format", "csv"])
        .args(range)
        .arg("--explain"));
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("ts,metric,") && lines[0].ends_with(",value"));
    assert!(lines[0].contains(",hostname,"), "{}", lines[0]);
    assert_eq!(lines.len(), 1 + HOSTS * 6);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("explain: series: 3 matched, 3 with points in range"),
        "{err}"
    );
}

/// Runs `sediment ARGS` on a pseudo-terminal (util-linux `script`), returning what it
/// printed.
fn on_a_terminal(db: &Path, args: &str, env: &[(&str, &str)]) -> String {
    let bin = env!("CARGO_BIN_EXE_sediment");
    let line = format!("{bin} --db '{}' {args}", db.display());
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .env_remove("NO_COLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("script (util-linux) runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap().replace('\r', "")
}

#[test]
fn on_a_terminal_a_coloured_table_with_units_and_sparklines_unless_no_color() {
    let tmp = tempfile::tempdir().unwrap();
    let db = database(tmp.path());
    let args = "query 'cpu_usage_user' --step 10m --agg avg";
    let text = on_a_terminal(&db, args, &[]);
    assert!(text.contains("\x1b[1mSERIES"), "{text}");
    let plain = on_a_terminal(&db, args, &[("NO_COLOR", "1")]);
    assert!(!plain.contains('\x1b'), "{plain}");
    let lines: Vec<&str> = plain.lines().collect();
    let header = lines.iter().position(|l| l.starts_with("SERIES")).unwrap();
    assert!(lines[header].contains("UNIT") && lines[header].contains("TREND"));
    let rows = &lines[header + 1..];
    assert_eq!(rows.len(), HOSTS, "{plain}");
    // Aligned: the unit column starts at the same place on every row.
    let col = lines[header].find("UNIT").unwrap();
    for r in rows {
        assert_eq!(&r[col..col + 1], "%", "{plain}");
        assert!(r.starts_with("cpu_usage_user{hostname=\"host_"), "{r}");
        let spark: String = r.chars().filter(|c| ('▁'..='█').contains(c)).collect();
        assert_eq!(spark.chars().count(), HOURS * 6, "{r}");
    }
    // Piped, the default is JSON lines.
    let out = run(sediment(&db).args(["query", "cpu_usage_user", "--agg", "max"]));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), HOSTS);
    assert!(text.starts_with('{'));
}

#[test]
fn bad_input_is_one_line_and_status_2() {
    let tmp = tempfile::tempdir().unwrap();
    let db = database(tmp.path());
    let cases: [(&[&str], &str); 9] = [
        (
            &["--metric", "no_such_metric"],
            "no series matches no_such_metric",
        ),
        (&["cpu{host=}"], "bad selector"),
        (
            &["--metric", "cpu_usage_user", "--last", "5 parsecs"],
            "not a duration",
        ),
        (
            &["--metric", "cpu_usage_user", "--start", "yesterday"],
            "not a time",
        ),
        (
            &["--metric", "cpu_usage_user", "--agg", "p101"],
            "unknown aggregate",
        ),
        (
            &["--metric", "cpu_usage_user", "--where", "~ 3"],
            "must start with",
        ),
        (
            &["--metric", "cpu_usage_user", "--group-by", "hostname"],
            "--group-by needs --agg",
        ),
        (
            &[
                "--metric",
                "cpu_usage_user",
                "--start",
                "2016-01-02",
                "--end",
                "2016-01-01",
            ],
            "is empty",
        ),
        (&[], "give a selector or --metric"),
    ];
    for (args, needle) in cases {
        let out = run(sediment(&db).arg("query").args(args));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let out = run(sediment(&tmp.path().join("missing")).args(["query", "--metric", "m"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("no database at"));
}

/// The database held open for writing by this process (a service), batches of 100
/// points written and flushed in a loop, while `sediment query` runs again and again:
/// every query succeeds, sees whole batches only, and never sees fewer points than the
/// one before; the writer never fails.
#[test]
fn query_beside_a_writing_process_sees_whole_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("db");
    let db = Db::open(&path, Options::default()).unwrap();
    let key = SeriesKey::new("requests").with("service", "api");
    let write = move |db: &Db, i: i64| {
        let mut batch = WriteBatch::new();
        for j in 0..100 {
            batch.push_key(&key, (i * 100 + j) * S, j as f64);
        }
        db.write(&batch).unwrap();
    };
    write(&db, 0);
    db.flush().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, stop, write) = (db.clone(), stop.clone(), write);
        std::thread::spawn(move || {
            let mut i = 1;
            while !stop.load(Ordering::Relaxed) {
                write(&db, i);
                if i % 5 == 0 {
                    db.flush().unwrap();
                }
                i += 1;
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            i
        })
    };
    let mut seen = 0;
    for _ in 0..15 {
        let doc = json(&run(sediment(&path).args([
            "query", "--metric", "requests", "--agg", "count", "--format", "json",
        ])));
        let count = doc["series"][0]["values"][0].as_f64().unwrap() as i64;
        assert_eq!(count % 100, 0, "a half batch: {count}");
        assert!(count >= seen, "went back from {seen} to {count}");
        seen = count;
    }
    stop.store(true, Ordering::Relaxed);
    let batches = writer.join().unwrap();
    assert!(seen >= 100 && seen <= batches * 100, "{seen} of {batches}");
    db.close().unwrap();
}
