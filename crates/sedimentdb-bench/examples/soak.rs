//! Soak: writes at a fixed rate for a fixed time with the maintenance scheduler on
//! (flush, compaction, and a short retention so that data also leaves), and watches
//! memory, disk, file descriptors and the engine's own counts. Under retention each of
//! them must level off; the closing table gives each one's growth over the second half
//! of the run and flags any that kept growing (the exit status is then 1).
//!
//! ```text
//! cargo run --release --example soak -- --minutes 10 --rate 200000
//! ```
//!
//! Flags (all optional): `--minutes F` (default 1), `--rate POINTS_PER_SEC` (200000),
//! `--series N` (10000), `--every SECS` between printed lines (10), `--retention SECS`
//! of data time (120; data time runs at wall-clock speed), `--durability
//! sync|periodic|none` (periodic, 100 ms), `--dir PATH` (default: a temporary
//! directory, removed at the end).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sedimentdb::{Db, Durability, Maintenance, Options, SeriesKey, WriteBatch};
use sedimentdb_bench::sys;

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

struct Args {
    minutes: f64,
    rate: u64,
    series: u64,
    every: f64,
    retention: u64,
    durability: Durability,
    dir: Option<PathBuf>,
}

fn parse_args() -> BoxResult<Args> {
    let mut args = Args {
        minutes: 1.0,
        rate: 200_000,
        series: 10_000,
        every: 10.0,
        retention: 120,
        durability: Durability::Periodic(Duration::from_millis(100)),
        dir: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--minutes" => args.minutes = value()?.parse()?,
            "--rate" => args.rate = value()?.parse()?,
            "--series" => args.series = value()?.parse()?,
            "--every" => args.every = value()?.parse()?,
            "--retention" => args.retention = value()?.parse()?,
            "--durability" => {
                args.durability = match value()?.as_str() {
                    "sync" => Durability::Sync,
                    "periodic" => Durability::Periodic(Duration::from_millis(100)),
                    "none" => Durability::None,
                    other => return Err(format!("unknown durability {other:?}").into()),
                }
            }
            "--dir" => args.dir = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown flag {other:?} (see the example's docs)").into()),
        }
    }
    if args.rate == 0 || args.series == 0 || args.every <= 0.0 || args.minutes <= 0.0 {
        return Err("--rate, --series, --every and --minutes must be positive".into());
    }
    Ok(args)
}

/// One measurement.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    secs: f64,
    points: u64,
    rss: u64,
    wal_bytes: u64,
    segment_bytes: u64,
    other_bytes: u64,
    head_points: u64,
    segments: u64,
    partitions: u64,
    fds: u64,
    /// Mapped files already deleted (a segment whose last reader has not let go).
    deleted_maps: u64,
}

/// The measures whose growth is judged: name, value, and the absolute growth over the
/// second half below which a rise is noise, whatever its relative size.
fn measures(s: &Sample) -> [(&'static str, f64, f64); 9] {
    const MIB: f64 = 1024.0 * 1024.0;
    [
        ("rss", s.rss as f64, 32.0 * MIB),
        ("wal bytes", s.wal_bytes as f64, 32.0 * MIB),
        ("segment bytes", s.segment_bytes as f64, 32.0 * MIB),
        ("other bytes", s.other_bytes as f64, 4.0 * MIB),
        ("head points", s.head_points as f64, 1e6),
        ("segments", s.segments as f64, 8.0),
        ("partitions", s.partitions as f64, 2.0),
        ("open fds", s.fds as f64, 8.0),
        ("deleted maps", s.deleted_maps as f64, 8.0),
    ]
}

fn count_dir(path: &str) -> u64 {
    std::fs::read_dir(path).map_or(0, |d| d.count() as u64)
}

fn deleted_maps() -> u64 {
    std::fs::read_to_string("/proc/self/maps").map_or(0, |maps| {
        maps.lines().filter(|l| l.ends_with("(deleted)")).count() as u64
    })
}

fn sample(db: &Db, dir: &Path, started: Instant, points: u64) -> Sample {
    let stats = db.stats();
    let size = |sub: &str| sys::dir_size(&dir.join(sub)).unwrap_or(0);
    let wal_bytes = size("wal");
    let segment_bytes = size("segments");
    let total = sys::dir_size(dir).unwrap_or(0);
    Sample {
        secs: started.elapsed().as_secs_f64(),
        points,
        rss: sys::rss_bytes().unwrap_or(0),
        wal_bytes,
        segment_bytes,
        other_bytes: total.saturating_sub(wal_bytes + segment_bytes),
        head_points: stats.head_points,
        segments: stats.segments,
        partitions: stats.partitions.len() as u64,
        fds: count_dir("/proc/self/fd"),
        deleted_maps: deleted_maps(),
    }
}

fn print_line(s: &Sample) {
    println!(
        "{:>7.0} s {:>12} pts  rss {:>7.1} MiB  wal {:>7.1} MiB  segments {:>7.1} MiB  \
         other {:>5.2} MiB  head {:>9} pts  {:>4} segs  {:>3} parts  {:>4} fds  {:>3} deleted maps",
        s.secs,
        s.points,
        sys::mib(s.rss),
        sys::mib(s.wal_bytes),
        sys::mib(s.segment_bytes),
        sys::mib(s.other_bytes),
        s.head_points,
        s.segments,
        s.partitions,
        s.fds,
        s.deleted_maps,
    );
}

/// Least-squares slope of `ys` over `xs`.
fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
    }
    if sxx == 0.0 {
        0.0
    } else {
        sxy / sxx
    }
}

/// Prints the growth of each measure over the second half; returns the names of those
/// that kept growing.
fn judge(samples: &[Sample]) -> Vec<&'static str> {
    let end = samples.last().map_or(0.0, |s| s.secs);
    let half: Vec<&Sample> = samples.iter().filter(|s| s.secs >= end / 2.0).collect();
    let mut growing = Vec::new();
    if half.len() < 4 {
        println!("too few samples in the second half to judge growth");
        return growing;
    }
    let span = half[half.len() - 1].secs - half[0].secs;
    let xs: Vec<f64> = half.iter().map(|s| s.secs).collect();
    println!(
        "growth over the second half ({:.0} s to {:.0} s, {} samples), least-squares fit:",
        half[0].secs,
        end,
        half.len()
    );
    println!(
        "  {:<14} {:>14} {:>14} {:>16} {:>9}  verdict",
        "measure", "mean", "max", "slope per min", "over half"
    );
    for i in 0..measures(&Sample::default()).len() {
        let (name, _, noise) = measures(half[0])[i];
        let ys: Vec<f64> = half.iter().map(|s| measures(s)[i].1).collect();
        let mean = ys.iter().sum::<f64>() / ys.len() as f64;
        let max = ys.iter().copied().fold(f64::MIN, f64::max);
        let per_sec = slope(&xs, &ys);
        let rise = per_sec * span;
        let relative = if mean > 0.0 { rise / mean } else { 0.0 };
        // Growing: the fitted rise over the half is both a real amount and a real share.
        let verdict = if rise > noise && relative > 0.2 {
            growing.push(name);
            "GROWING"
        } else {
            "flat"
        };
        println!(
            "  {name:<14} {mean:>14.0} {max:>14.0} {:>16.1} {:>8.1}%  {verdict}",
            per_sec * 60.0,
            relative * 100.0
        );
    }
    growing
}

fn main() -> BoxResult<()> {
    let args = parse_args()?;
    let tmp;
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().join("soak")
        }
    };
    let opts = Options::default()
        .durability(args.durability)
        .partition_duration(Duration::from_secs(30))
        .head_window(Duration::from_secs(10))
        .warm_duration(Duration::from_secs(60))
        .retention(Duration::from_secs(args.retention))
        .wal_file_size(8 << 20)
        .maintenance(
            Maintenance::new()
                .flush_every(Duration::from_secs(5))
                .compact_every(Duration::from_secs(10))
                .retention_every(Duration::from_secs(10)),
        );
    let db = Db::open(&dir, opts)?;
    let handles = (0..args.series)
        .map(|i| {
            db.series(
                &SeriesKey::new("soak")
                    .with("host", format!("h{}", i % 100))
                    .with("n", i.to_string()),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Each series gets a point every `series / rate` seconds of data time, which runs at
    // wall-clock speed while the writer keeps up.
    let interval_ns = (args.series as f64 * 1e9 / args.rate as f64).max(1.0) as i64;
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos() as i64;
    println!(
        "soak: {:.1} min at {} points/s over {} series ({} ms between a series' points), \
         retention {} s, {:?}, in {}",
        args.minutes,
        args.rate,
        args.series,
        interval_ns / 1_000_000,
        args.retention,
        args.durability,
        dir.display()
    );

    let started = Instant::now();
    let run_for = Duration::from_secs_f64(args.minutes * 60.0);
    let tick = Duration::from_millis(10);
    let max_batch = (args.rate / 20).max(1);
    let mut written = 0u64;
    let mut batch = WriteBatch::with_capacity(max_batch as usize);
    let mut samples = Vec::new();
    let mut next_sample = started;
    let mut next_print = started;
    let mut behind_ticks = 0u64;
    let mut ticks = 0u64;
    while started.elapsed() < run_for {
        let due = (started.elapsed().as_secs_f64() * args.rate as f64) as u64;
        let n = due.saturating_sub(written).min(max_batch);
        if n > 0 {
            batch.clear();
            for i in written..written + n {
                let series = i % args.series;
                let ts = t0 + (i / args.series) as i64 * interval_ns;
                let value = ((i.wrapping_mul(7919) ^ series) % 100_000) as f64 / 100.0;
                batch.push(handles[series as usize], ts, value);
            }
            db.write(&batch)?;
            written += n;
        }
        ticks += 1;
        if due.saturating_sub(written) > max_batch {
            behind_ticks += 1;
        }
        let now = Instant::now();
        if now >= next_sample {
            let s = sample(&db, &dir, started, written);
            samples.push(s);
            if now >= next_print {
                print_line(&s);
                next_print += Duration::from_secs_f64(args.every);
            }
            next_sample += Duration::from_secs(1);
        }
        if due <= written {
            std::thread::sleep(tick);
        }
    }
    let last = sample(&db, &dir, started, written);
    samples.push(last);
    print_line(&last);
    let secs = started.elapsed().as_secs_f64();
    let status = db.maintenance_status();
    println!(
        "wrote {written} points in {secs:.1} s: {:.0} points/s (target {}), behind the rate \
         in {behind_ticks} of {ticks} ticks; maintenance: {} flushes, {} compactions, {} \
         retention runs, last error {:?}; peak rss {:.1} MiB",
        written as f64 / secs,
        args.rate,
        status.flushes,
        status.compactions,
        status.retention_runs,
        status.last_error,
        sys::mib(sys::peak_rss_bytes().unwrap_or(0)),
    );
    let growing = judge(&samples);
    db.close()?;
    if growing.is_empty() {
        println!("nothing grew without bound");
        Ok(())
    } else {
        println!("kept growing: {}", growing.join(", "));
        std::process::exit(1);
    }
}
