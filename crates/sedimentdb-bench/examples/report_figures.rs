//! Figures of `sediment report`: the time to build a 7-day report over 1,000 series
//! (the aim is under 2 s), and to render it as JSON and HTML.
//!
//! ```text
//! cargo run --release -p sedimentdb-bench --example report_figures
//! ```
//!
//! The data is `sedimentdb_report::sample_data` with 50 hosts (1,000 series: latency,
//! CPU, memory, satisfaction, learning confidence, feature use) over 14 days, a point a
//! minute per series (20.2 million points; the report's 7 days are half of them, the
//! other half is its previous period), flushed and compacted into segments. Each
//! figure is the median of 5 runs after one warm-up.
//!
//! `KEEP=DIR` writes the database into DIR and keeps it (the README's screenshots are
//! taken from such a database with `HOSTS=2 INTERVAL_SECS=600`); `HOSTS`, `INTERVAL_SECS`
//! change the size.

use std::error::Error;
use std::time::{Duration, Instant};

use sedimentdb::{Db, Options};
use sedimentdb_report::sample_data::{SampleData, SAMPLE_END};
use sedimentdb_report::{render, ReportSpec, ReportType, Reporter};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() -> Result<(), Box<dyn Error>> {
    let hosts = env_or("HOSTS", 50) as usize;
    let interval = Duration::from_secs(env_or("INTERVAL_SECS", 60));
    let keep = std::env::var_os("KEEP");
    let tmp = tempfile::tempdir()?;
    let path = keep
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let data = SampleData {
        end: SAMPLE_END,
        span: Duration::from_secs(14 * 86_400),
        interval,
        hosts,
    };
    let t = Instant::now();
    let points = {
        let db = Db::open(&path, Options::default())?;
        let n = data.write(&db)?;
        db.flush()?;
        db.compact()?;
        db.close()?;
        n
    };
    println!(
        "series={} points={points} write_s={:.1}",
        data.series(),
        t.elapsed().as_secs_f64()
    );

    let reporter = Reporter::new(Db::open(&path, Options::default())?)?;
    let spec = ReportSpec::new(ReportType::All)
        .last(Duration::from_secs(7 * 86_400))
        .now(SAMPLE_END);
    let mut build = Vec::new();
    let mut json = Vec::new();
    let mut html = Vec::new();
    let mut report = reporter.report(&spec)?;
    for _ in 0..5 {
        let t = Instant::now();
        report = reporter.report(&spec)?;
        build.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let j = render::json(&report)?;
        json.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let h = render::html(&report)?;
        html.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(j.len() > 1000 && h.len() > 1000);
    }
    let per_type = |t: ReportType| -> Result<f64, Box<dyn Error>> {
        let spec = ReportSpec::new(t)
            .last(Duration::from_secs(7 * 86_400))
            .now(SAMPLE_END);
        let start = Instant::now();
        reporter.report(&spec)?;
        Ok(start.elapsed().as_secs_f64() * 1e3)
    };
    println!(
        "report_7d_series={} report_metrics={} report_points={} report_build_ms={:.0} render_json_ms={:.1} render_html_ms={:.1} html_bytes={}",
        report.summary.series,
        report.summary.metrics,
        report.summary.points,
        median(build),
        median(json),
        median(html),
        render::html(&report)?.len()
    );
    println!(
        "report_performance_ms={:.0} report_health_ms={:.0}",
        per_type(ReportType::Performance)?,
        per_type(ReportType::Health)?
    );
    Ok(())
}
