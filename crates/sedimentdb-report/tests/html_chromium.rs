//! The HTML report in a real browser: headless Chromium (Debian's `chromium`, which
//! `scripts/test.sh` installs) renders the report of the sample data.
//!
//! - `--dump-dom` of a copy with a probe script appended (the report itself has none):
//!   every timeline is a live `SVGSVGElement` with a laid-out size, its mean line has one
//!   vertex per timeline bucket and a non-zero rendered width, one ring per anomaly, the
//!   legend's entries; every breakdown bar chart names its values; no resource was
//!   loaded (the report needs no network) and nothing was logged to the console.
//! - `--screenshot` of the report itself: the PNG holds the chart colours (the mean
//!   line's blue, the anomaly red, the trend band's orange), so the charts were painted.
//!
//! Without Chromium these tests fail (with how to install it); they never skip.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sedimentdb::{Db, Options};
use sedimentdb_report::sample_data::{SampleData, SAMPLE_END};
use sedimentdb_report::{render, Report, ReportSpec, ReportType, Reporter};
use serde_json::Value;

/// The chart colours of `render::chart` (mean line, anomaly rings, trend).
const MEAN_BLUE: [u8; 3] = [31, 99, 178];
const ANOMALY_RED: [u8; 3] = [200, 30, 40];
const TREND_ORANGE: [u8; 3] = [214, 120, 20];
const WINDOW: (u32, u32) = (1000, 1800);

fn sample_report() -> Report {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    SampleData::small().write(&db).unwrap();
    let spec = ReportSpec::new(ReportType::All)
        .last(Duration::from_secs(7 * 86_400))
        .now(SAMPLE_END);
    Reporter::new(db).unwrap().report(&spec).unwrap()
}

/// `$SEDIMENT_CHROMIUM`, else `chromium` or `chromium-browser` on the `PATH`.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("SEDIMENT_CHROMIUM") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "Chromium is needed to test the HTML report in a real browser and was not found \
         on the PATH: install it (Debian: apt-get install chromium; scripts/test.sh does) or set \
         SEDIMENT_CHROMIUM to its binary"
    );
}

/// Runs headless Chromium on `file` with a fresh profile and no network; returns stdout
/// and stderr (where `--enable-logging=stderr` puts console messages).
fn run_chromium(file: &Path, extra: &[String]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            // Any host name fails to resolve: a report that needed the network would
            // show it (and its resource entries would say so).
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--window-size={},{}", WINDOW.0, WINDOW.1))
        .args(extra)
        .arg(format!("file://{}", file.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("Chromium starts");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).unwrap();
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("Chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = (out_reader.join().unwrap(), err_reader.join().unwrap());
    assert!(status.success(), "Chromium failed ({status}):\n{err}");
    (out, err)
}

/// Console messages Chromium logged for the page (errors, warnings, logs).
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

/// Appended before `</body>`: after load, writes what the browser made of the charts
/// into `<pre id="probe">` as JSON. Errors are collected from the start of `<head>`.
const PROBE_HEAD: &str =
    "<script>window.__errors=[];addEventListener('error',e=>__errors.push(String(e.message)));</script>";
const PROBE_BODY: &str = r#"<script>
addEventListener('load', () => {
  const out = { errors: window.__errors, resources: performance.getEntriesByType('resource').map(r => r.name), figures: [] };
  for (const f of document.querySelectorAll('figure.chart')) {
    const svg = f.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
    // Only an SVG polyline has `points`; an element the parser did not make SVG has not.
    const vertices = p => (p && p.points) ? p.points.numberOfItems : 0;
    const blue = [...f.querySelectorAll('polyline')].filter(p => p.getAttribute('stroke') === '#1F63B2');
    const mean = blue.reduce((a, p) => (a && vertices(a) >= vertices(p)) ? a : p, null);
    out.figures.push({
      kind: f.classList.contains('timeline') ? 'timeline' : f.classList.contains('breakdown') ? 'breakdown' : 'other',
      metric: f.dataset.metric,
      svg: svg instanceof SVGSVGElement,
      width: box.width, height: box.height,
      mean_points: vertices(mean),
      mean_width: (mean && mean.getBBox) ? mean.getBBox().width : 0,
      rings: f.querySelectorAll('circle[r="5"]').length,
      texts: [...f.querySelectorAll('text')].map(t => t.textContent.trim()),
    });
  }
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"#;

/// Loads `html` with the probe in Chromium; the probe's findings and the console lines.
fn probe(dir: &Path, html: &str) -> (Value, Vec<String>) {
    let with_probe = html
        .replacen("<head>", &format!("<head>{PROBE_HEAD}"), 1)
        .replacen("</body>", &format!("{PROBE_BODY}</body>"), 1);
    let path = dir.join("probe.html");
    std::fs::write(&path, with_probe).unwrap();
    let (dom, err) = run_chromium(&path, &["--dump-dom".to_string()]);
    let start = dom.find("<pre id=\"probe\">").expect("the probe ran") + 16;
    let end = start + dom[start..].find("</pre>").unwrap();
    let json = dom[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let console = console_lines(&err).into_iter().map(String::from).collect();
    (serde_json::from_str(&json).unwrap(), console)
}

#[test]
fn chromium_draws_one_timeline_per_metric_with_its_series_and_loads_nothing() {
    let report = sample_report();
    let html = render::html(&report).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (found, console) = probe(dir.path(), &html);
    assert!(console.is_empty(), "console: {console:#?}");
    assert_eq!(found["errors"], serde_json::json!([]), "{found}");
    assert_eq!(found["resources"], serde_json::json!([]), "loaded: {found}");

    let figures = found["figures"].as_array().unwrap();
    let timelines: Vec<&Value> = figures.iter().filter(|f| f["kind"] == "timeline").collect();
    let names: Vec<&str> = timelines
        .iter()
        .map(|f| f["metric"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = report.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, expected, "one timeline per metric, in order");
    assert_eq!(report.metrics.len(), 6);
    let mut rings = 0;
    for (f, m) in timelines.iter().zip(&report.metrics) {
        assert_eq!(f["svg"], true, "{f}");
        // Laid out at the page's width (the SVG scales down to the 852 px column).
        assert!(f["width"].as_f64().unwrap() > 600.0, "{f}");
        assert!(f["height"].as_f64().unwrap() > 150.0, "{f}");
        assert_eq!(f["mean_points"], m.timeline.len(), "{}: {f}", m.name);
        assert!(f["mean_width"].as_f64().unwrap() > 500.0, "{f}");
        assert_eq!(f["rings"], m.anomalies.len(), "{}: {f}", m.name);
        rings += m.anomalies.len();
        let texts: Vec<&str> = f["texts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert!(texts.contains(&"mean"), "{texts:?}");
        assert_eq!(
            texts.contains(&"anomaly"),
            !m.anomalies.is_empty(),
            "{texts:?}"
        );
        let band = m.trend.as_ref().is_some_and(|t| t.band.len() >= 2);
        assert_eq!(texts.contains(&"trend, 95% band"), band, "{texts:?}");
    }
    assert!(rings > 0, "the sample data has anomalies to mark");

    let breakdowns: Vec<&Value> = figures
        .iter()
        .filter(|f| f["kind"] == "breakdown")
        .collect();
    let with_breakdown: Vec<_> = report
        .metrics
        .iter()
        .filter(|m| m.breakdown.is_some())
        .collect();
    assert!(!with_breakdown.is_empty());
    assert_eq!(breakdowns.len(), with_breakdown.len());
    for (f, m) in breakdowns.iter().zip(with_breakdown) {
        assert_eq!(f["svg"], true, "{f}");
        assert_eq!(f["metric"], m.name.as_str());
        let texts = f["texts"].to_string();
        for v in &m.breakdown.as_ref().unwrap().values {
            assert!(
                texts.contains(&format!("{}  ", v.label)),
                "{}: {texts}",
                v.label
            );
        }
    }
}

#[test]
fn the_probe_notices_a_report_whose_charts_do_not_render() {
    // The same report with its SVG elements renamed: Chromium makes unknown HTML
    // elements of them, and the probe must say so (the test above is not vacuous).
    let html = render::html(&sample_report())
        .unwrap()
        .replace("<svg", "<svgx")
        .replace("</svg>", "</svgx>");
    let dir = tempfile::tempdir().unwrap();
    let (found, _) = probe(dir.path(), &html);
    let figures = found["figures"].as_array().unwrap();
    assert!(!figures.is_empty());
    for f in figures {
        assert_eq!(f["svg"], false, "{f}");
        assert_eq!(f["mean_points"], 0, "{f}");
    }
}

#[test]
fn the_screenshot_shows_the_charts() {
    let html = render::html(&sample_report()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).unwrap();
    let png = dir.path().join("report.png");
    let (_, err) = run_chromium(&page, &[format!("--screenshot={}", png.display())]);
    assert!(console_lines(&err).is_empty(), "{err}");

    let decoder = png::Decoder::new(std::fs::File::open(&png).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), WINDOW);
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{:?}", info.color_type);
    let pixels: Vec<[u8; 3]> = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    let near = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 12);
    let count = |c: [u8; 3]| pixels.iter().filter(|p| near(**p, c)).count();
    let (blue, red, orange) = (count(MEAN_BLUE), count(ANOMALY_RED), count(TREND_ORANGE));
    // The first timelines are within the window: their lines, rings and trend lines.
    assert!(blue > 1000, "mean-line pixels: {blue}");
    assert!(red > 50, "anomaly pixels: {red}");
    assert!(orange > 300, "trend pixels: {orange}");
    let white = count([255, 255, 255]);
    assert!(
        white < pixels.len() * 95 / 100,
        "the page is {white} of {} pixels white",
        pixels.len()
    );
}
