//! Quickstart: embed sedimentdb, write a day of server metrics, read them back.
//!
//! ```text
//! cargo run --release --example quickstart
//! ```
//!
//! The database lives in `./sediment-data` with default options (no configuration).
//! Each run appends the next day of metrics after the last one stored, so running the
//! example again carries on with the same database.

use std::error::Error;
use std::f64::consts::TAU;

use sedimentdb::{Db, Matcher, Options, Selector, SeriesKey, Stats, TimeRange, WriteBatch};

const DATA_DIR: &str = "./sediment-data";
/// The day the first run writes: 2024-03-04T00:00:00Z, a Monday.
const FIRST_DAY_NS: i64 = 1_709_510_400 * SECOND_NS;
const SECOND_NS: i64 = 1_000_000_000;
const MINUTE_NS: i64 = 60 * SECOND_NS;
const HOUR_NS: i64 = 60 * MINUTE_NS;
const DAY_NS: i64 = 24 * HOUR_NS;
/// Scrape interval.
const STEP_NS: i64 = 15 * SECOND_NS;

/// The machines we pretend to monitor.
const HOSTS: [Host; 4] = [
    Host {
        name: "web-1",
        role: "web",
        region: "eu-west",
        cpu_base: 25.0,
    },
    Host {
        name: "web-2",
        role: "web",
        region: "eu-west",
        cpu_base: 28.0,
    },
    Host {
        name: "db-1",
        role: "db",
        region: "eu-west",
        cpu_base: 40.0,
    },
    Host {
        name: "cache-1",
        role: "cache",
        region: "us-east",
        cpu_base: 12.0,
    },
];

/// On this host, from 14:05 to 14:35 UTC, a runaway job pegs the CPU and HTTP latency
/// climbs: the incident the queries below should make visible.
const INCIDENT_HOST: &str = "web-2";
const INCIDENT_START: i64 = 14 * HOUR_NS + 5 * MINUTE_NS;
const INCIDENT_END: i64 = 14 * HOUR_NS + 35 * MINUTE_NS;

struct Host {
    name: &'static str,
    role: &'static str,
    region: &'static str,
    cpu_base: f64,
}

impl Host {
    fn key(&self, metric: &str) -> SeriesKey {
        SeriesKey::new(metric)
            .with("host", self.name)
            .with("role", self.role)
            .with("region", self.region)
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let db =
        Db::open(DATA_DIR, Options::default()).map_err(|e| format!("opening {DATA_DIR}: {e}"))?;
    let day = next_day(&db)?;
    println!(
        "sedimentdb quickstart: writing {} into {DATA_DIR}",
        date(day)
    );
    let written = write_day(&db, day)?;
    println!("wrote {written} points");
    db.flush()?;
    db.close()?;

    // Reopen, as a service does after a restart: everything comes back from disk.
    let db = Db::open(DATA_DIR, Options::default())?;
    let day_range = TimeRange::new(day, day + DAY_NS);

    println!("\nHourly max CPU of {INCIDENT_HOST} on {}:", date(day));
    let cpu = Selector::metric("cpu_usage_percent").with(Matcher::eq("host", INCIDENT_HOST));
    let mut hourly_max = [f64::NAN; 24];
    for series in db.select(&cpu, day_range)? {
        for (ts, value) in series?.iter() {
            let hour = ((ts - day) / HOUR_NS) as usize;
            hourly_max[hour] = hourly_max[hour].max(value); // NaN.max(x) == x
        }
    }
    for (hour, max) in hourly_max.iter().enumerate() {
        let bar = "#".repeat((max / 2.5).round().max(0.0) as usize);
        let flag = if *max > 90.0 { "  <- incident" } else { "" };
        println!("  {hour:02}:00  {max:5.1} %  {bar}{flag}");
    }

    println!("\nWorst p99 HTTP latency per web host on {}:", date(day));
    let latency =
        Selector::metric("http_request_duration_p99_ms").with(Matcher::regex("host", "web-.*")?);
    for series in db.select(&latency, day_range)? {
        let series = series?;
        let host = series.key.dimension("host").unwrap_or("?");
        let worst = series
            .iter()
            .fold(None, |worst: Option<(i64, f64)>, (ts, v)| match worst {
                Some((_, w)) if w >= v => worst,
                _ => Some((ts, v)),
            });
        let median = median(&series.values);
        if let Some((ts, value)) = worst {
            println!(
                "  {host:<8} worst {value:6.1} ms at {}   (median {median:.1} ms)",
                time_of_day(ts)
            );
        }
    }

    let web = Selector::any().with(Matcher::regex("host", "web-.*")?);
    let keys = db.list_series(&web)?;
    println!("\nSeries matching {{host=~\"web-.*\"}}: {}", keys.len());
    for key in &keys {
        println!("  {key}");
    }

    print_stats(&db.stats());
    db.close()?;
    Ok(())
}

/// The day to write: the first day, or the day after the last one already stored.
fn next_day(db: &Db) -> Result<i64, Box<dyn Error>> {
    let probe = Selector::metric("cpu_usage_percent").with(Matcher::eq("host", HOSTS[0].name));
    let mut last = None;
    for series in db.select(&probe, TimeRange::all())? {
        last = last.max(series?.timestamps.last().copied());
    }
    Ok(match last {
        Some(ts) => ts.div_euclid(DAY_NS) * DAY_NS + DAY_NS,
        None => FIRST_DAY_NS,
    })
}

/// Writes one day of metrics for every host, one batch per hour of data.
fn write_day(db: &Db, day: i64) -> Result<u64, Box<dyn Error>> {
    struct Series {
        handle: sedimentdb::SeriesHandle,
        host: usize,
        metric: Metric,
    }
    #[derive(Clone, Copy)]
    enum Metric {
        Cpu,
        Memory,
        Disk,
        Latency,
    }
    // Resolve each series once; writes then go through the cheap handles.
    let mut series = Vec::new();
    for (i, host) in HOSTS.iter().enumerate() {
        let mut metrics = vec![
            ("cpu_usage_percent", Metric::Cpu),
            ("mem_used_bytes", Metric::Memory),
            ("disk_used_percent", Metric::Disk),
        ];
        if host.role == "web" {
            metrics.push(("http_request_duration_p99_ms", Metric::Latency));
        }
        for (name, metric) in metrics {
            let handle = db.series(&host.key(name))?;
            series.push(Series {
                handle,
                host: i,
                metric,
            });
        }
    }

    let mut noise = Noise::new(day as u64);
    let mut batch = WriteBatch::with_capacity(series.len() * (HOUR_NS / STEP_NS) as usize);
    let mut written = 0u64;
    for hour in 0..24 {
        for step in 0..HOUR_NS / STEP_NS {
            let offset = hour * HOUR_NS + step * STEP_NS;
            let ts = day + offset;
            // Daily cycle: quiet at 03:00 UTC, busiest at 15:00 UTC.
            let load = 0.5 - 0.45 * (TAU * (offset as f64 / DAY_NS as f64 - 3.0 / 24.0)).cos();
            for s in &series {
                let host = &HOSTS[s.host];
                let incident =
                    host.name == INCIDENT_HOST && (INCIDENT_START..INCIDENT_END).contains(&offset);
                let day_fraction = offset as f64 / DAY_NS as f64;
                let value = match s.metric {
                    Metric::Cpu if incident => 95.0 + 4.0 * noise.uniform(),
                    Metric::Cpu => host.cpu_base * (0.4 + 1.2 * load) + 4.0 * noise.normal(),
                    Metric::Memory => {
                        // A heap that grows and is collected every 20 minutes.
                        let gib = 1024.0 * 1024.0 * 1024.0;
                        let sawtooth = (offset % (20 * MINUTE_NS)) as f64 / (20 * MINUTE_NS) as f64;
                        ((2.0 + 1.5 * load + 0.8 * sawtooth) * gib).round()
                    }
                    Metric::Disk => {
                        let growth = if host.role == "db" { 6.0 } else { 1.5 };
                        40.0 + growth * day_fraction + 0.05 * noise.normal()
                    }
                    Metric::Latency if incident => 900.0 + 400.0 * noise.uniform(),
                    Metric::Latency => 80.0 + 120.0 * load * load + 15.0 * noise.normal().abs(),
                };
                let value = match s.metric {
                    Metric::Cpu => value.clamp(0.0, 100.0),
                    _ => value.max(0.0),
                };
                // Round like an exporter does (two decimals); it also compresses better.
                batch.push(s.handle, ts, (value * 100.0).round() / 100.0);
            }
        }
        written += db.write(&batch)?.points as u64;
        batch.clear();
    }
    Ok(written)
}

fn print_stats(stats: &Stats) {
    println!("\nDatabase stats:");
    println!("  series          {}", stats.series);
    println!("  head points     {}", stats.head_points);
    println!("  segments        {}", stats.segments);
    println!("  segment points  {}", stats.segment_points);
    println!("  segment bytes   {}", stats.segment_bytes);
    println!("  WAL bytes       {}", stats.wal_bytes);
    println!("  catalog bytes   {}", stats.catalog_bytes);
    let points = stats.head_points + stats.segment_points;
    if stats.segment_points > 0 {
        println!(
            "  {points} points, {:.2} segment bytes per point",
            stats.segment_bytes as f64 / stats.segment_points as f64
        );
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

/// `YYYY-MM-DD` of a UTC timestamp (days-to-civil, after Howard Hinnant).
fn date(ts: i64) -> String {
    let days = ts.div_euclid(DAY_NS);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `HH:MM:SS` of a UTC timestamp.
fn time_of_day(ts: i64) -> String {
    let s = ts.rem_euclid(DAY_NS) / SECOND_NS;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Deterministic noise (SplitMix64), so every run writes the same shapes.
struct Noise(u64);

impl Noise {
    fn new(seed: u64) -> Self {
        Noise(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller, one value per call for simplicity).
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
    }
}
