//! `sediment import` and `sediment export` end to end on gen.py's standard dataset: every
//! input format, every output format, every export re-imported and compared point by
//! point (bit-exact values); the `.ai_onboard` migration; bad input and bad output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sedimentdb::{Db, Options, Selector, TimeRange};

/// series key -> (timestamp, value bits)
type Dump = BTreeMap<String, Vec<(i64, u64)>>;

const HOSTS: usize = 3;
const HOURS: usize = 2;
/// 10 fields, one point every 10 s.
const POINTS: usize = HOSTS * 10 * HOURS * 360;

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

/// `../shared/bench/gen.py` beside the repository.
fn gen_py() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/gen.py")
}

fn generate(dir: &Path, format: &str, ext: &str) -> PathBuf {
    let path = dir.join(format!("data.{ext}"));
    let out = Command::new("python3")
        .arg(gen_py())
        .args([
            "--hosts",
            &HOSTS.to_string(),
            "--hours",
            &HOURS.to_string(),
            "--format",
            format,
            "--out",
        ])
        .arg(&path)
        .output()
        .expect("python3 runs gen.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

fn dump(db: &Path) -> Dump {
    let db = Db::open(db, Options::default()).unwrap();
    let mut all = Dump::new();
    for series in db.select(&Selector::any(), TimeRange::all()).unwrap() {
        let s = series.unwrap();
        all.insert(
            s.key.to_string(),
            s.iter().map(|(t, v)| (t, v.to_bits())).collect(),
        );
    }
    db.close().unwrap();
    all
}

fn points(d: &Dump) -> usize {
    d.values().map(Vec::len).sum()
}

fn import(db: &Path, file: &Path, extra: &[&str]) -> Output {
    run(sediment(db).arg("import").arg(file).args(extra))
}

#[test]
fn every_format_imports_exports_and_reimports_point_for_point() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = [
        ("influx", "lp", &["--precision", "s"][..]),
        ("openmetrics", "om", &[][..]),
        ("csv", "csv", &["--precision", "s"][..]),
        ("jsonl", "jsonl", &[][..]),
    ];
    let mut dumps = BTreeMap::new();
    for (format, ext, extra) in inputs {
        let file = generate(tmp.path(), format, ext);
        let db = tmp.path().join(format!("db-{format}"));
        let out = import(&db, &file, extra);
        assert_eq!(out.status.code(), Some(0), "import of {format}");
        let original = dump(&db);
        assert_eq!(points(&original), POINTS, "{format}");
        assert_eq!(original.len(), HOSTS * 10, "{format}");

        for (out_format, out_ext) in [
            ("csv", "csv"),
            ("jsonl", "jsonl"),
            ("influx", "lp"),
            ("openmetrics", "om"),
        ] {
            let exported = tmp.path().join(format!("{format}-export.{out_ext}"));
            let out = run(sediment(&db)
                .args(["export", "--format", out_format, "--out"])
                .arg(&exported));
            assert_eq!(
                out.status.code(),
                Some(0),
                "export of {format} as {out_format}"
            );
            let again = tmp.path().join(format!("db-{format}-{out_format}"));
            let out = import(&again, &exported, &[]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "re-import of {format} as {out_format}"
            );
            assert!(
                dump(&again) == original,
                "{format} exported as {out_format} and re-imported differs"
            );
        }
        dumps.insert(format, original);
    }
    // Line protocol and OpenMetrics carry the same tags as dimensions: the same database.
    assert!(dumps["influx"] == dumps["openmetrics"]);
    // The formats agree on every value: compare one series across all four.
    let pick = |d: &Dump, needle: &str| {
        d.iter()
            .find(|(k, _)| k.starts_with("cpu_usage_user") && k.contains(needle))
            .unwrap()
            .1
            .clone()
    };
    let lp = pick(&dumps["influx"], "host_1\"");
    assert_eq!(pick(&dumps["csv"], "host_1\""), lp);
    assert_eq!(pick(&dumps["jsonl"], "host_1\""), lp);
    assert_eq!(lp[0].0, 1_451_606_400_000_000_000);
}

#[test]
fn export_selects_by_metric_dimension_and_time_and_writes_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let file = generate(tmp.path(), "influx", "lp");
    let db = tmp.path().join("db");
    assert_eq!(
        import(&db, &file, &["--precision", "s"]).status.code(),
        Some(0)
    );
    let out = run(sediment(&db).args([
        "export",
        "--metric",
        "cpu_usage_idle",
        "--dim",
        "hostname=host_2",
        "--start",
        "2016-01-01T01:00:00Z",
        "--end",
        "2016-01-01T01:01:00Z",
        "--format",
        "csv",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert!(
        rows[0].starts_with("ts,metric,arch,datacenter,hostname,"),
        "{}",
        rows[0]
    );
    assert_eq!(rows.len(), 1 + 6, "{text}");
    assert!(
        rows[1].starts_with("1451610000000000000,cpu_usage_idle,"),
        "{}",
        rows[1]
    );
    assert!(rows.iter().skip(1).all(|r| r.contains(",host_2,")));

    // The same through a selector.
    let out = run(sediment(&db).args([
        "export",
        "cpu_usage_idle{hostname=\"host_2\"}",
        "--start",
        "2016-01-01T01:00:00Z",
        "--end",
        "2016-01-01T01:01:00Z",
        "--format",
        "csv",
    ]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), text);

    let out = run(sediment(&db).args(["export", "cpu{host=}"]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("bad selector") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn malformed_line_protocol_names_the_line_and_keeps_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("bad.lp");
    std::fs::write(&file, "cpu,host=a usage=1 1\ncpu,host=a usage=2 2\ncpu,host=a usage=oops 3\ncpu,host=a usage=4 4\n").unwrap();
    let db = tmp.path().join("db");
    let out = import(&db, &file, &[]);
    assert_eq!(out.status.code(), Some(1), "skipped lines are a finding");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("bad.lp:line 3: field \"usage\": value \"oops\" is not a number"),
        "{err}"
    );
    assert!(err.contains("skipped 1 lines"), "{err}");
    let d = dump(&db);
    assert_eq!(
        d["cpu_usage{host=\"a\"}"]
            .iter()
            .map(|p| p.0)
            .collect::<Vec<_>>(),
        [1, 2, 4]
    );
}

#[test]
fn dry_run_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let file = generate(tmp.path(), "csv", "csv");
    let db = tmp.path().join("db");
    let out = import(&db, &file, &["--dry-run", "--precision", "s"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains(&format!("read (dry run, nothing written) {POINTS} points")));
    assert!(!db.exists());
}

#[test]
fn an_ai_onboard_directory_goes_through_the_collector_migration() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sedimentdb-collector/tests/fixtures/ai_onboard");
    let db = tmp.path().join("db");
    let out = run(sediment(&db)
        .arg("import")
        .arg(&fixtures)
        .env("SEDIMENT_PRIVACY_SECRET", "a test secret of 16+ bytes"));
    // The fixtures hold deliberately broken lines: reported, and a finding.
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("stored 37 events from 6 files"), "{err}");
    assert!(err.contains(":line "), "{err}");
    let d = dump(&db);
    assert_eq!(points(&d), 37);
    assert!(
        d.keys().any(|k| k.starts_with("capability_usage_count{")),
        "{:?}",
        d.keys()
    );
}

#[test]
fn unwritable_output_is_one_line_and_status_2() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let file = tmp.path().join("x.lp");
    std::fs::write(&file, "m value=1 1\n").unwrap();
    assert_eq!(import(&db, &file, &[]).status.code(), Some(0));
    let target = tmp.path().join("no-such-dir/out.csv");
    let out = run(sediment(&db).args(["export", "--out"]).arg(&target));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot write") && err.contains("out.csv"),
        "{err}"
    );
}

#[test]
fn an_unknown_extension_asks_for_a_format() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("points.dat");
    std::fs::write(&file, "m value=1 1\n").unwrap();
    let out = import(&tmp.path().join("db"), &file, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("--format"), "{err}");
    assert_eq!(err.lines().count(), 1);
}
