//! The tsbs harness asks the peers' questions of gen.py's own data: the file reads back
//! value for value (checked against gen.py's text, parsed here on its own), and each of
//! the six TSBS questions gets the same answer from sedimentdb and from SQLite, with the
//! number of values the question implies, computed here from the data.

use std::path::{Path, PathBuf};
use std::process::Command;

use sedimentdb::{Db, Durability, Options, SeriesKey, WriteBatch};
use sedimentdb_bench::sqlite_baseline::{self, Layout};
use sedimentdb_bench::tsbs_data::{metric_name, FIELDS};
use sedimentdb_bench::tsbs_dataset::{Dataset, FileData};
use sedimentdb_bench::tsbs_queries::{self, Params};
use sedimentdb_formats::Precision;

/// 18 h covers every TSBS window ([S+6h, S+18h) is the longest) without moving it.
const HOURS: u32 = 18;
const HOSTS: usize = 4;
const NS: i64 = 1_000_000_000;

fn gen_py() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/gen.py")
}

fn generate(dir: &Path) -> PathBuf {
    let path = dir.join("cpu.lp");
    let out = Command::new("python3")
        .arg(gen_py())
        .args(["--hosts", &HOSTS.to_string(), "--hours", &HOURS.to_string()])
        .args(["--seed", "123", "--format", "influx", "--out"])
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

/// `(timestamp ns, value)` of `field` of `host` read straight from the text.
fn from_text(text: &str, host: &str, field: &str) -> Vec<(i64, f64)> {
    let tag = format!("hostname={host},");
    text.lines()
        .filter(|line| line.starts_with("cpu,") && line.contains(&tag))
        .map(|line| {
            let mut parts = line.rsplitn(2, ' ');
            let ts: i64 = parts.next().unwrap().parse().unwrap();
            let fields = parts.next().unwrap().rsplit_once(' ').unwrap().1;
            let value = fields
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{field}=")))
                .unwrap()
                .parse()
                .unwrap();
            (ts * NS, value)
        })
        .collect()
}

#[test]
fn gen_py_file_reads_back_exactly_and_both_engines_answer_the_tsbs_questions_alike() {
    let dir = tempfile::tempdir().unwrap();
    let path = generate(dir.path());
    let text = std::fs::read_to_string(&path).unwrap();
    let data = Dataset::File(FileData::read(&path, Precision::Seconds).unwrap());

    // The shape and the values are gen.py's.
    let steps = HOURS as u64 * 360;
    assert_eq!(data.hosts().len(), HOSTS);
    assert_eq!(data.points(), HOSTS as u64 * FIELDS.len() as u64 * steps);
    assert_eq!(data.start(), 1_451_606_400 * NS, "gen.py's default start");
    for (host, field) in [(0, 0), (3, 9), (2, 4)] {
        let (ts, values) = data.series_points(host * FIELDS.len() + field);
        let want = from_text(&text, &format!("host_{host}"), FIELDS[field]);
        let got: Vec<(i64, f64)> = ts.into_iter().zip(values).collect();
        assert_eq!(got, want, "host_{host} {}", FIELDS[field]);
    }

    // Both engines loaded with the same points.
    let db = Db::open(
        dir.path().join("db"),
        Options::default().durability(Durability::None),
    )
    .unwrap();
    let mut stream = data.stream();
    let mut chunk = Vec::new();
    let mut batch = WriteBatch::new();
    while stream.fill(&mut chunk, 10_000) {
        batch.clear();
        for p in &chunk {
            let host = &data.hosts()[p.series as usize / FIELDS.len()];
            let key = SeriesKey::from_parts(
                metric_name(p.series as usize % FIELDS.len()),
                host.tag_pairs(),
            );
            batch.push_key(&key, p.ts, p.value);
        }
        db.write(&batch).unwrap();
    }
    db.flush().unwrap();
    let sqlite = sqlite_baseline::load(dir.path(), Layout::WithoutRowid, &data, 10_000).unwrap();
    let conn = rusqlite::Connection::open(&sqlite.db_path).unwrap();
    tsbs_queries::prepare_sqlite(&conn).unwrap();

    // How many values each question must return, from the data itself.
    let params = Params::new(&data);
    let s = data.start();
    let hour = 3600 * NS;
    let high_cpu_host: usize = params.high_cpu_host["host_".len()..].parse().unwrap();
    let above_90 = data
        .series_points(high_cpu_host * FIELDS.len())
        .0
        .iter()
        .zip(data.series_points(high_cpu_host * FIELDS.len()).1)
        .filter(|(&ts, v)| ts >= s + 6 * hour && ts < s + 18 * hour && *v > 90.0)
        .count();
    assert!(above_90 > 0, "the high_cpu host passes 90 in the window");
    let expected = [
        ("single_groupby_1_1_1", 60),
        ("single_groupby_5_1_12", 5 * 12 * 60),
        ("cpu_max_all_8", FIELDS.len() * 8),
        ("double_groupby_1", HOSTS * 12),
        ("lastpoint", HOSTS * FIELDS.len()),
        ("high_cpu_1", FIELDS.len() * above_90),
        ("correlate_all", HOSTS),
    ];
    for (name, values) in expected {
        let ours = tsbs_queries::run_sediment(&db, name, &params).unwrap();
        let theirs = tsbs_queries::run_sqlite(&conn, name, &params).unwrap();
        assert_eq!(ours.rows, values, "{name}: values from sedimentdb");
        assert!(
            ours.agrees(&theirs),
            "{name}: sedimentdb {ours:?}, SQLite {theirs:?}"
        );
    }
    assert_eq!(tsbs_queries::NAMES.len(), expected.len());
}
