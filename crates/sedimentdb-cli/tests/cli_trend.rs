//! `sediment trend` end to end: slopes compared with a least-squares fit computed here
//! from gen.py's points, verdicts on series with a known direction, bad input.

use std::path::Path;
use std::process::{Command, Output};

use sedimentdb::{Db, Options, Selector, SeriesKey, TimeRange, WriteBatch};
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

fn json(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(0));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn slopes_match_a_least_squares_fit_of_the_points() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("data.lp");
    let gen = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/gen.py");
    assert!(Command::new("python3")
        .arg(gen)
        .args(["--hosts", "2", "--hours", "1", "--format", "influx", "--out"])
        .arg(&file)
        .status()
        .unwrap()
        .success());
    let db = tmp.path().join("db");
    let out = run(sediment(&db)
        .arg("import")
        .arg(&file)
        .args(["--precision", "s"]));
    assert_eq!(out.status.code(), Some(0));
    let doc = json(&run(sediment(&db).args([
        "trend",
        "--metric",
        "cpu_usage_user",
        "--format",
        "json",
    ])));
    let engine = Db::open_read_only(&db, Options::default()).unwrap();
    for series in engine
        .select(&Selector::metric("cpu_usage_user"), TimeRange::all())
        .unwrap()
    {
        let series = series.unwrap();
        let host = series.key.dimension("hostname").unwrap();
        let pts: Vec<(f64, f64)> = series
            .iter()
            .map(|(t, v)| ((t - series.timestamps[0]) as f64 / 1e9, v))
            .collect();
        let n = pts.len() as f64;
        let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
        let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
        let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let slope = sxy / sxx;
        let got = doc
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["labels"]["hostname"] == host)
            .unwrap();
        assert_eq!(got["points"], 360);
        let s = got["slope_per_sec"].as_f64().unwrap();
        assert!(
            (s - slope).abs() <= 1e-9 * slope.abs().max(1e-6),
            "{host}: {s} vs {slope}"
        );
        let f = &got["forecast"];
        assert!(f["lower"].as_f64().unwrap() <= f["value"].as_f64().unwrap());
        assert!(f["value"].as_f64().unwrap() <= f["upper"].as_f64().unwrap());
        assert_eq!(f["ts"], series.timestamps[359] + 3600 * S, "1 h horizon");
    }
}

#[test]
fn verdicts_follow_the_bad_direction() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("db");
    {
        let db = Db::open(&path, Options::default()).unwrap();
        let mut batch = WriteBatch::new();
        for i in 0..600i64 {
            let wiggle = ((i * 7919) % 13) as f64 * 0.1;
            let rising = SeriesKey::new("latency").with("service", "rising");
            let flat = SeriesKey::new("latency").with("service", "flat");
            batch.push_key(&rising, i * 10 * S, 100.0 + i as f64 * 0.5 + wiggle);
            batch.push_key(&flat, i * 10 * S, 100.0 + wiggle);
        }
        db.write(&batch).unwrap();
        db.close().unwrap();
    }
    let verdicts = |worse: &str| -> Vec<(String, String)> {
        let doc = json(&run(sediment(&path).args([
            "trend",
            "--metric",
            "latency",
            "--step",
            "1m",
            "--group-by",
            "service",
            "--worse",
            worse,
            "--format",
            "json",
        ])));
        doc.as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["labels"]["service"].as_str().unwrap().to_string(),
                    t["verdict"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let up = verdicts("up");
    assert!(
        up.contains(&("rising".into(), "degrading".into())),
        "{up:?}"
    );
    assert!(up.contains(&("flat".into(), "stable".into())), "{up:?}");
    let down = verdicts("down");
    assert!(
        down.contains(&("rising".into(), "improving".into())),
        "{down:?}"
    );

    let out = run(sediment(&path).args(["trend", "--metric", "latency"]));
    assert_eq!(out.status.code(), Some(0));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.starts_with("SERIES") && table.contains("SLOPE/1h"),
        "{table}"
    );
    // 0.5 per 10 s = 180 per hour.
    assert!(table.contains("180"), "{table}");

    for (args, needle) in [
        (&["--metric", "nope"][..], "no series matches"),
        (
            &["--metric", "latency", "--confidence", "1.5"][..],
            "--confidence",
        ),
        (
            &["--metric", "latency", "--group-by", "service"][..],
            "--group-by needs --step",
        ),
    ] {
        let out = run(sediment(&path).arg("trend").args(args));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.contains(needle) && err.lines().count() == 1,
            "{args:?}: {err}"
        );
    }
}
