//! `sediment serve` end to end with the real Prometheus client: `promtool query
//! instant|range|series|labels` (Debian's `prometheus` package; `.ci/run` installs it)
//! against the server on a free loopback port, over a database made from the shared
//! generator's OpenMetrics output. Answers are compared point by point with the
//! engine's typed API; malformed PromQL and unsupported functions must give
//! Prometheus-shaped errors; SIGTERM must stop the server cleanly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use sedimentdb::{Db, Matcher, Options, Query, SeriesKey, WriteBatch};
use sedimentdb_promql::range_fns;
use serde_json::Value;

const S: i64 = 1_000_000_000;
/// gen.py's default start, 2016-01-01T00:00:00Z.
const START: i64 = 1_451_606_400;

fn shared_gen() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.join("../shared/bench/gen.py")
}

/// Parses `name{k="v",...} value ts_seconds` lines (the generator's OpenMetrics).
fn load_openmetrics(db: &Db, text: &str) -> usize {
    let mut batch = WriteBatch::new();
    let mut n = 0;
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let open = line.find('{').expect("labels");
        let close = line.rfind('}').expect("labels end");
        let name = &line[..open];
        let mut key = SeriesKey::new(name);
        for pair in line[open + 1..close].split(',') {
            let (k, v) = pair.split_once('=').expect("k=v");
            key = key.with(k, v.trim_matches('"'));
        }
        let mut rest = line[close + 1..].split_whitespace();
        let value: f64 = rest.next().unwrap().parse().unwrap();
        let ts: f64 = rest.next().unwrap().parse().unwrap();
        batch.push_key(&key, (ts * 1e3).round() as i64 * 1_000_000, value);
        n += 1;
    }
    db.write(&batch).unwrap();
    n
}

struct Server {
    child: Option<Child>,
    url: String,
}

impl Server {
    fn start(db: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sediment"))
            .arg("--db")
            .arg(db)
            .args(["serve", "--listen", "127.0.0.1:0", "--refresh", "0s"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Server {
            child: Some(child),
            url,
        }
    }

    fn addr(&self) -> &str {
        self.url.strip_prefix("http://").unwrap()
    }

    /// A raw HTTP/1.1 request: (status, body).
    fn http(&self, request_line_and_headers: &str, body: &str) -> (u16, String) {
        let mut s = TcpStream::connect(self.addr()).unwrap();
        write!(
            s,
            "{request_line_and_headers}\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        let status: u16 = resp[9..12].parse().unwrap();
        let body = resp
            .split_once("\r\n\r\n")
            .map(|x| x.1.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    fn stop(mut self) -> Output {
        let child = self.child.take().unwrap();
        let pid = child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        child.wait_with_output().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn promtool(args: &[&str]) -> Output {
    Command::new("promtool")
        .args(args)
        .output()
        .expect("promtool (Debian package prometheus) must be installed; .ci/run installs it")
}

fn promtool_json(args: &[&str]) -> Value {
    let mut full = vec!["query", "-o", "json"];
    full.extend_from_slice(args);
    let out = promtool(&full);
    assert!(
        out.status.success(),
        "promtool {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap(),
        Value::Number(n) => n.as_f64().unwrap(),
        other => panic!("not a number: {other}"),
    }
}

/// The raw points of one host's series, through the typed API.
fn raw(db: &Db, metric: &str, host: &str) -> Vec<(i64, f64)> {
    let q = Query::metric(metric).filter(Matcher::eq("hostname", host));
    let r = db.query(&q).unwrap();
    assert_eq!(r.series.len(), 1);
    r.series[0].points().collect()
}

#[test]
fn promtool_queries_agree_with_the_typed_api() {
    let gen = shared_gen();
    let out = Command::new("python3")
        .arg(&gen)
        .args(["--hosts", "3", "--hours", "2", "--format", "openmetrics"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (user_h1, system_h2) = {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let n = load_openmetrics(&db, &text);
        assert_eq!(n, 3 * 10 * 720);
        db.flush().unwrap();
        let a = raw(&db, "cpu_usage_user", "host_1");
        let b = raw(&db, "cpu_usage_system", "host_2");
        db.close().unwrap();
        (a, b)
    };
    assert_eq!(user_h1.len(), 720);

    let server = Server::start(dir.path());
    let url = server.url.clone();

    // Instant selector: the newest sample at or before the time, within 5 minutes.
    let t = START + 3600 + 5; // 5 s after a sample
    let v = promtool_json(&[
        "instant",
        "--time",
        &t.to_string(),
        &url,
        r#"cpu_usage_user{hostname="host_1"}"#,
    ]);
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 1);
    let expected = user_h1.iter().rev().find(|p| p.0 <= t * S).unwrap().1;
    assert_eq!(num(&arr[0]["value"][1]), expected);
    assert_eq!(num(&arr[0]["value"][0]), t as f64);
    assert_eq!(arr[0]["metric"]["__name__"], "cpu_usage_user");
    assert_eq!(
        arr[0]["metric"]["region"].as_str().map(|s| !s.is_empty()),
        Some(true)
    );

    // Range query of max_over_time, step 1m over an hour, point by point.
    let (s0, s1) = (START + 1800, START + 5400);
    let v = promtool_json(&[
        "range",
        "--start",
        &s0.to_string(),
        "--end",
        &s1.to_string(),
        "--step",
        "1m",
        &url,
        r#"max_over_time(cpu_usage_user{hostname="host_1"}[1m])"#,
    ]);
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 1);
    assert!(arr[0]["metric"].get("__name__").is_none());
    let values = arr[0]["values"].as_array().unwrap();
    assert_eq!(values.len(), 61);
    for (i, p) in values.iter().enumerate() {
        let step = (s0 + 60 * i as i64) * S;
        let want = user_h1
            .iter()
            .filter(|(ts, _)| *ts > step - 60 * S && *ts <= step)
            .map(|p| p.1)
            .fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(num(&p[0]) as i64 * S, step);
        assert_eq!(num(&p[1]), want, "step {i}");
    }

    // Range query of a plain selector with the lookback, past the end of the data:
    // the last sample is repeated for 5 minutes, then the series stops.
    let last = START + 7200 - 10;
    let v = promtool_json(&[
        "range",
        "--start",
        &(last - 60).to_string(),
        "--end",
        &(last + 600).to_string(),
        "--step",
        "30s",
        &url,
        r#"cpu_usage_system{hostname="host_2"}"#,
    ]);
    let values = v.as_array().unwrap()[0]["values"]
        .as_array()
        .unwrap()
        .clone();
    for p in &values {
        let step = num(&p[0]) as i64 * S;
        let want = system_h2
            .iter()
            .rev()
            .find(|q| q.0 <= step && q.0 > step - 300 * S)
            .unwrap()
            .1;
        assert_eq!(num(&p[1]), want);
    }
    let last_step = num(&values.last().unwrap()[0]) as i64;
    assert!(
        last_step < last + 300 && last_step >= last + 270,
        "{last_step}"
    );

    // rate with Prometheus' extrapolation, against the window cut by hand from the
    // typed API's raw points; and an aggregation by a label.
    let v = promtool_json(&[
        "instant",
        "--time",
        &t.to_string(),
        &url,
        r#"rate(cpu_usage_user{hostname="host_1"}[5m])"#,
    ]);
    let got = num(&v.as_array().unwrap()[0]["value"][1]);
    let (ts, vals): (Vec<i64>, Vec<f64>) = user_h1
        .iter()
        .filter(|(ts, _)| *ts > (t - 300) * S && *ts <= t * S)
        .copied()
        .unzip();
    let window = range_fns::Window {
        ts: &ts,
        vals: &vals,
        range_start: (t - 300) * S,
        range_end: t * S,
    };
    let want = range_fns::extrapolated_rate(window, 300 * S, true, true).unwrap();
    assert_eq!(got, want);
    let v = promtool_json(&[
        "instant",
        "--time",
        &t.to_string(),
        &url,
        "avg by (region) (rate(cpu_usage_idle[5m]))",
    ]);
    assert!(!v.as_array().unwrap().is_empty());
    for s in v.as_array().unwrap() {
        assert!(s["metric"]
            .as_object()
            .unwrap()
            .keys()
            .all(|k| k == "region"));
        assert!(num(&s["value"][1]).is_finite());
    }

    // Series and labels.
    // promtool's default window is the last 9999 hours; the data is from 2016.
    let (ws, we) = (START.to_string(), (START + 7200).to_string());
    let out = promtool(&[
        "query",
        "series",
        "--start",
        &ws,
        "--end",
        &we,
        "--match",
        r#"cpu_usage_user{hostname=~"host_[12]"}"#,
        &url,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let series = String::from_utf8(out.stdout).unwrap();
    assert_eq!(series.lines().count(), 2, "{series}");
    assert!(series.contains("host_1") && series.contains("host_2") && !series.contains("host_0"));
    let out = promtool(&["query", "series", "--match", "cpu_usage_user", &url]);
    assert!(out.status.success());
    assert_eq!(
        out.stdout.len(),
        0,
        "no series has samples in promtool's default window"
    );
    let out = promtool(&[
        "query", "labels", "--start", &ws, "--end", &we, &url, "hostname",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .collect::<Vec<_>>(),
        ["host_0", "host_1", "host_2"]
    );
    let out = promtool(&[
        "query", "labels", "--start", &ws, "--end", &we, &url, "__name__",
    ]);
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 10);

    // Errors: promtool fails, and the JSON has Prometheus' shape and status codes.
    let out = promtool(&["query", "instant", &url, "sum(cpu_usage_user"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad_data"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, body) = server.http("GET /api/v1/query?query=sum(cpu_usage_user HTTP/1.1", "");
    assert_eq!(status, 400);
    let j: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (j["status"].as_str(), j["errorType"].as_str()),
        (Some("error"), Some("bad_data"))
    );
    let (status, body) = server.http(
        "POST /api/v1/query HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded",
        "query=histogram_quantile(0.9%2C+cpu_usage_user)",
    );
    assert_eq!(status, 400, "{body}");
    let j: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(j["errorType"], "bad_data");
    assert!(j["error"].as_str().unwrap().contains("histogram_quantile"));
    // What Grafana's "Save & test" asks: 1+1 as POST, and the build info.
    let (status, body) = server.http(
        "POST /api/v1/query HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded",
        "query=1%2B1&time=1700000000",
    );
    assert_eq!(status, 200);
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"2"]}}"#
    );
    let (status, body) = server.http("GET /api/v1/status/buildinfo HTTP/1.1", "");
    assert_eq!(status, 200);
    assert!(body.contains(r#""version":"#));
    let (status, _) = server.http("GET /api/v1/nothing HTTP/1.1", "");
    assert_eq!(status, 404);

    // Clean shutdown on SIGTERM: exit status 0, and the database opens again.
    let out = server.stop();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("server stopped"));
    Db::open(dir.path(), Options::default())
        .unwrap()
        .close()
        .unwrap();
}
