//! TSBS "devops cpu-only" load into sedimentdb, with SQLite as the baseline.
//!
//! ```text
//! python3 ../shared/bench/gen.py --hosts 100 --hours 24 --seed 123 --format influx > cpu.lp
//! cargo run --release -p sedimentdb-bench --example tsbs -- --from-file cpu.lp
//!     [--precision s] [--batch 10000] [--dir PATH] [--skip-sqlite] [--skip-sqlite-rowid]
//!     [--cold-zstd-level L] [--cold-chunk-points N]
//! cargo run --release -p sedimentdb-bench --example tsbs -- --hosts 100 --hours 24 [--seed 123]
//! ```
//!
//! The data: with `--from-file`, gen.py's own line-protocol file (the bytes the peers
//! load), read with the reader `sediment import` uses; without it, the in-process
//! generator (`tsbs_data.rs`: gen.py's model with other random numbers, for quick runs).
//! 100 hosts x 24 h x 10 fields every 10 s = 8.64 M points, one series `cpu_<field>` per
//! (host, field) with the ten TSBS host tags as dimensions, loaded time-major in batches.
//!
//! What is measured, in this order:
//! 0. With `--from-file` only: the file loaded into a fresh database (default options)
//!    through `sedimentdb_formats::load`, parse included, as the peers' loaders are
//!    timed: `ingest_file_points_per_sec`. (Reading the file into memory for the steps
//!    below is not timed.)
//! 1. sedimentdb, default options (`Durability::Sync`, group commit): ingest from memory
//!    through series handles (series creation included; `ingest_points_per_sec`),
//!    `flush`, bytes on disk per point, `close`,
//!    reopen time, and a full read-back checked value by value against the generator;
//!    then the TSBS query set (`tsbs_queries.rs`, the peers' questions) on that flushed
//!    database: `query_<name>_ms`, the median of 10 runs after a warm-up, the number of
//!    values each answer holds (`query_<name>_values`), and how each query ran
//!    (statistics vs decoding) on stderr. Then `compact` (warm), every partition
//!    compacted cold, and the query set again on the cold data: `query_<name>_cold_ms`
//!    and `query_<name>_cold_vs_warm` (cold time over flushed-data time; the aim is at
//!    most 1).
//! 2. WAL replay: the same data into a second database whose head never flushes
//!    (4 GiB budget, long window), dropped without `close`, then timed `open`.
//! 3. Peak RSS of the process so far (VmHWM).
//! 4. SQLite (WAL, `synchronous=FULL`, one transaction per batch), the careful
//!    `WITHOUT ROWID` layout and the rowid-plus-index layout a typical user writes first;
//!    the same queries in SQL on the careful layout (`sqlite_query_<name>_ms`), each
//!    checked to return the same answer as sedimentdb, `query_<name>_speedup` and
//!    `query_speedup_geomean`.
//!
//! Data generation is outside every timed region (both engines get the same treatment);
//! the generator streams, so the dataset is never held in memory and does not inflate RSS.
//!
//! Figures go to stdout, one `key=value` per line; progress and commentary go to stderr.

use std::collections::HashSet;
use std::error::Error;
use std::fmt::Display;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sedimentdb::{Db, Options, Selector, SeriesHandle, SeriesKey, Tier, TimeRange, WriteBatch};
use sedimentdb_bench::sqlite_baseline::{self, Layout, SqliteRun};
use sedimentdb_bench::sys;
use sedimentdb_bench::tsbs_data::{self, metric_name, GenPoint, Shape, FIELDS};
use sedimentdb_bench::tsbs_dataset::{Dataset, FileData};
use sedimentdb_bench::tsbs_queries::{self, Digest};
use sedimentdb_formats::{Format, Precision, ReadOptions};

type BoxResult<T> = Result<T, Box<dyn Error>>;

const USAGE: &str = "usage: tsbs [--from-file FILE.lp [--precision s|ms|us|ns]] \
                     [--hosts N] [--hours H] [--seed S] [--batch POINTS] [--dir PATH] \
                     [--skip-sqlite] [--skip-sqlite-rowid] [--cold-zstd-level L] \
                     [--cold-chunk-points N]";

/// Command-line arguments.
#[derive(Debug)]
struct Args {
    /// gen.py's line-protocol file, instead of the in-process generator.
    from_file: Option<PathBuf>,
    /// The file's timestamp unit (gen.py writes seconds).
    precision: Precision,
    hosts: usize,
    hours: f64,
    seed: u64,
    batch: usize,
    dir: Option<PathBuf>,
    skip_sqlite: bool,
    skip_sqlite_rowid: bool,
    /// zstd level of the cold compaction (the default option when absent).
    cold_zstd_level: Option<i32>,
    /// Points per chunk of the cold compaction (the default option when absent).
    cold_chunk_points: Option<usize>,
}

impl Args {
    fn parse(mut raw: impl Iterator<Item = String>) -> BoxResult<Args> {
        let mut args = Args {
            from_file: None,
            precision: Precision::Seconds,
            hosts: 100,
            hours: 24.0,
            seed: 123,
            batch: 10_000,
            dir: None,
            skip_sqlite: false,
            skip_sqlite_rowid: false,
            cold_zstd_level: None,
            cold_chunk_points: None,
        };
        while let Some(arg) = raw.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) => (f.to_string(), Some(v.to_string())),
                None => (arg, None),
            };
            let mut value = || -> BoxResult<String> {
                inline
                    .clone()
                    .or_else(|| raw.next())
                    .ok_or_else(|| format!("{flag} needs a value\n{USAGE}").into())
            };
            match flag.as_str() {
                "--from-file" => args.from_file = Some(PathBuf::from(value()?)),
                "--precision" => {
                    let text = value()?;
                    args.precision = Precision::parse(&text)
                        .ok_or_else(|| format!("--precision {text:?}: use s, ms, us or ns"))?;
                }
                "--hosts" => args.hosts = parse_value(&flag, &value()?)?,
                "--hours" => args.hours = parse_value(&flag, &value()?)?,
                "--seed" => args.seed = parse_value(&flag, &value()?)?,
                "--batch" => args.batch = parse_value(&flag, &value()?)?,
                "--dir" => args.dir = Some(PathBuf::from(value()?)),
                "--skip-sqlite" => args.skip_sqlite = true,
                "--skip-sqlite-rowid" => args.skip_sqlite_rowid = true,
                "--cold-zstd-level" => args.cold_zstd_level = Some(parse_value(&flag, &value()?)?),
                "--cold-chunk-points" => {
                    args.cold_chunk_points = Some(parse_value(&flag, &value()?)?)
                }
                "-h" | "--help" => {
                    eprintln!("{USAGE}");
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument {other:?}\n{USAGE}").into()),
            }
        }
        let hours_ok = args.hours.is_finite() && args.hours > 0.0;
        if args.hosts == 0 || args.batch == 0 || !hours_ok {
            return Err(format!("--hosts, --hours and --batch must be positive\n{USAGE}").into());
        }
        Ok(args)
    }
}

fn parse_value<T: std::str::FromStr>(flag: &str, value: &str) -> BoxResult<T>
where
    T::Err: Display,
{
    value
        .parse()
        .map_err(|e| format!("{flag} {value:?}: {e}").into())
}

/// Prints one figure on stdout, flushed at once so that a long run shows its figures as
/// they come.
fn figure(key: &str, value: impl Display) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (e.g. `| head`) must not abort the measurement.
    let _ = writeln!(out, "{key}={value}");
    let _ = out.flush();
}

fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

fn rate(points: u64, d: Duration) -> f64 {
    points as f64 / d.as_secs_f64().max(1e-9)
}

/// Adds what the program was doing to an error.
trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> BoxResult<T>;
}

impl<T, E: Display> Context<T> for Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> BoxResult<T> {
        self.map_err(|e| format!("{}: {e}", what()).into())
    }
}

fn main() -> BoxResult<()> {
    let args = Args::parse(std::env::args().skip(1))?;
    let data = match &args.from_file {
        Some(path) => {
            eprintln!("reading {} into memory (not timed)", path.display());
            Dataset::File(FileData::read(path, args.precision)?)
        }
        None => {
            let shape = Shape::new(args.hosts, args.hours, args.seed);
            if shape.timestamps == 0 {
                return Err("--hours is too small for one 10 s interval".into());
            }
            Dataset::generated(shape)
        }
    };

    // Keep the temporary directory alive until the end; it is removed on drop.
    let (_tempdir, root) = match &args.dir {
        Some(dir) => (None, prepare_dir(dir)?),
        None => {
            let tmp = tempfile::Builder::new()
                .prefix("sedimentdb-tsbs-")
                .tempdir()
                .context(|| "creating a temporary directory".into())?;
            let path = tmp.path().to_path_buf();
            (Some(tmp), path)
        }
    };
    eprintln!(
        "tsbs devops cpu-only ({}): {} hosts x {} fields = {} series, {} points; batches of {}; working in {}",
        match &args.from_file {
            Some(path) => format!("gen.py's file {}", path.display()),
            None => format!("in-process generator, {} h, seed {}", args.hours, args.seed),
        },
        data.hosts().len(),
        FIELDS.len(),
        data.series(),
        data.points(),
        args.batch,
        root.display()
    );

    // 0. The file as the peers load it: parse included.
    if let Some(path) = &args.from_file {
        ingest_file(
            &root.join("sediment-from-file"),
            path,
            args.precision,
            &data,
        )?;
    }

    // 1. sedimentdb: ingest, flush, size, reopen, verify.
    let db_dir = root.join("sediment");
    let db = Db::open(&db_dir, Options::default())
        .context(|| format!("opening {}", db_dir.display()))?;
    eprintln!("sedimentdb: ingesting with default options (Durability::Sync)");
    let ingest = ingest(&db, &data, args.batch)?;
    if ingest.non_durable_receipts > 0 {
        eprintln!(
            "warning: {} write receipts were not durable under Durability::Sync",
            ingest.non_durable_receipts
        );
    }
    figure("points", ingest.points);
    figure("series", data.series());
    figure("ingest_secs", secs(ingest.elapsed));
    figure(
        "ingest_points_per_sec",
        format!("{:.0}", rate(ingest.points, ingest.elapsed)),
    );
    if ingest.points != data.points() {
        return Err(format!(
            "sedimentdb acknowledged {} points, the dataset has {}",
            ingest.points,
            data.points()
        )
        .into());
    }

    let started = Instant::now();
    let flushed = db.flush().context(|| "flush".into())?;
    let flush_time = started.elapsed();
    figure("flush_secs", secs(flush_time));
    eprintln!(
        "flush wrote {} points into {} segments ({} bytes)",
        flushed.points, flushed.segments, flushed.bytes
    );
    let stats = db.stats();
    let disk_bytes = sys::dir_size(&db_dir).context(|| format!("sizing {}", db_dir.display()))?;
    figure(
        "bytes_per_point",
        format!("{:.3}", disk_bytes as f64 / ingest.points as f64),
    );
    figure(
        "segment_bytes_per_point",
        format!("{:.3}", stats.segment_bytes as f64 / ingest.points as f64),
    );
    eprintln!("after flush: {stats:?}; {disk_bytes} bytes on disk:");
    for (file, size) in sys::dir_listing(&db_dir).unwrap_or_default() {
        eprintln!("  {size:>12}  {file}");
    }
    if stats.head_points != 0 {
        eprintln!(
            "warning: {} points still in the head after flush",
            stats.head_points
        );
    }
    let ingest_peak_rss = sys::peak_rss_bytes();
    db.close().context(|| "close".into())?;
    drop(db);

    let started = Instant::now();
    let db = Db::open(&db_dir, Options::default())
        .context(|| format!("reopening {}", db_dir.display()))?;
    figure("reopen_secs", secs(started.elapsed()));
    let started = Instant::now();
    let read_back = verify(&db, &data)?;
    let scan_time = started.elapsed();
    figure("verify", "ok");
    figure(
        "scan_points_per_sec",
        format!("{:.0}", rate(read_back, scan_time)),
    );
    let our_queries = sediment_queries(&db, &data, "")?;
    // Compaction: merge each partition's flush segments into one warm segment, then
    // reopen with every partition counted as cold and compact again densely.
    let compacted = db.compact().context(|| "compact (warm)".into())?;
    figure("compact_secs", format!("{:.3}", compacted.secs));
    figure(
        "compact_input_mb_per_sec",
        format!(
            "{:.1}",
            compacted.input_bytes as f64 / 1e6 / compacted.secs.max(1e-9)
        ),
    );
    figure(
        "compact_raw_mb_per_sec",
        format!(
            "{:.1}",
            compacted.points as f64 * 16.0 / 1e6 / compacted.secs.max(1e-9)
        ),
    );
    let warm_bytes = sys::dir_size(&db_dir).context(|| "sizing warm db".into())?;
    figure(
        "warm_bytes_per_point",
        format!("{:.3}", warm_bytes as f64 / ingest.points as f64),
    );
    db.close().context(|| "close after verify".into())?;
    drop(db);
    let mut cold_options = Options::default();
    if let Some(level) = args.cold_zstd_level {
        cold_options = cold_options.cold_zstd_level(level);
    }
    if let Some(points) = args.cold_chunk_points {
        cold_options = cold_options.cold_chunk_points(points);
    }
    let db = Db::open(&db_dir, cold_options).context(|| "reopen for cold compaction".into())?;
    let started = Instant::now();
    let (mut cold_input_bytes, mut cold_points) = (0, 0);
    for partition in db.stats().partitions {
        let report = db
            .compact_partition(partition.start, Tier::Cold)
            .context(|| "compact (cold)".into())?;
        cold_input_bytes += report.input_bytes;
        cold_points += report.points;
    }
    let cold_time = started.elapsed();
    figure("cold_compact_secs", secs(cold_time));
    figure(
        "cold_compact_input_mb_per_sec",
        format!(
            "{:.1}",
            cold_input_bytes as f64 / 1e6 / cold_time.as_secs_f64().max(1e-9)
        ),
    );
    figure(
        "cold_compact_raw_mb_per_sec",
        format!(
            "{:.1}",
            cold_points as f64 * 16.0 / 1e6 / cold_time.as_secs_f64().max(1e-9)
        ),
    );
    let cold_bytes = sys::dir_size(&db_dir).context(|| "sizing cold db".into())?;
    figure(
        "cold_bytes_per_point",
        format!("{:.3}", cold_bytes as f64 / ingest.points as f64),
    );
    verify(&db, &data)?;
    figure("verify_cold", "ok");
    // The same queries on the cold partitions (one dense segment each): the aim is no
    // slower than on the flushed (warm) data above.
    let cold_queries = sediment_queries(&db, &data, "_cold")?;
    for ((name, warm_ms, warm_digest), (_, cold_ms, cold_digest)) in
        our_queries.iter().zip(&cold_queries)
    {
        if !cold_digest.agrees(warm_digest) {
            return Err(format!(
                "query {name}: {warm_digest:?} on warm data, {cold_digest:?} on cold data"
            )
            .into());
        }
        figure(
            &format!("query_{name}_cold_vs_warm"),
            format!("{:.2}", cold_ms / warm_ms.max(1e-6)),
        );
    }
    db.close()
        .context(|| "close after cold compaction".into())?;
    drop(db);

    // 2. WAL replay after a drop without close.
    let replay = measure_replay(&root.join("sediment-replay"), &data, args.batch)?;
    figure("replay_secs", secs(replay.open_time));
    figure("replay_points", replay.points);

    // 3. Memory, before SQLite adds its own.
    if let Some(peak) = ingest_peak_rss {
        figure("ingest_peak_rss_mb", format!("{:.1}", sys::mib(peak)));
    }
    match sys::peak_rss_bytes() {
        Some(peak) => figure("peak_rss_mb", format!("{:.1}", sys::mib(peak))),
        None => eprintln!("peak RSS unavailable (no /proc/self/status)"),
    }

    // 4. SQLite.
    if args.skip_sqlite {
        eprintln!("SQLite skipped (--skip-sqlite)");
    } else {
        let careful = sqlite(&root, Layout::WithoutRowid, &data, args.batch)?;
        figure(
            "sqlite_ingest_points_per_sec",
            format!("{:.0}", careful.points_per_sec()),
        );
        figure(
            "sqlite_bytes_per_point",
            format!("{:.3}", careful.bytes_per_point()),
        );
        sqlite_queries(&careful.db_path, &data, &our_queries)?;
        if !args.skip_sqlite_rowid {
            let typical = sqlite(&root, Layout::RowidPlusIndex, &data, args.batch)?;
            figure(
                "sqlite_rowid_ingest_points_per_sec",
                format!("{:.0}", typical.points_per_sec()),
            );
            figure(
                "sqlite_rowid_bytes_per_point",
                format!("{:.3}", typical.bytes_per_point()),
            );
        }
        figure(
            "ingest_ratio_vs_sqlite",
            format!(
                "{:.2}",
                rate(ingest.points, ingest.elapsed) / careful.points_per_sec()
            ),
        );
    }
    if replay.points != data.points() {
        return Err(format!(
            "WAL replay brought back {} points, {} were acknowledged",
            replay.points,
            data.points()
        )
        .into());
    }
    Ok(())
}

/// Runs of each query timed (after one warm-up); the figure is their median.
const QUERY_RUNS: usize = 10;

/// The TSBS query set: `query_<name><suffix>_ms` figures, and how each query executed on
/// stderr.
fn sediment_queries(
    db: &Db,
    data: &Dataset,
    suffix: &str,
) -> BoxResult<Vec<(&'static str, f64, Digest)>> {
    let params = tsbs_queries::Params::new(data);
    let mut out = Vec::new();
    for name in tsbs_queries::NAMES {
        let (ms, digest) =
            tsbs_queries::time_median(QUERY_RUNS, || tsbs_queries::run_sediment(db, name, &params))
                .context(|| format!("query {name}"))?;
        figure(&format!("query_{name}{suffix}_ms"), format!("{ms:.3}"));
        figure(&format!("query_{name}{suffix}_values"), digest.rows);
        let explain = tsbs_queries::explain_sediment(db, name, &params)?;
        eprintln!(
            "  {name}: {} rows; {} segments scanned ({} pruned), {} series, chunks {} from stats / {} decoded / {} skipped, {} points decoded, {} bytes read",
            digest.rows,
            explain.segments_scanned,
            explain.segments_pruned,
            explain.series_matched,
            explain.chunks_from_stats,
            explain.chunks_decoded,
            explain.chunks_skipped,
            explain.points_decoded,
            explain.bytes_read
        );
        out.push((name, ms, digest));
    }
    Ok(out)
}

/// The same queries on SQLite: `sqlite_query_<name>_ms` figures, the ratios, and a
/// check that both engines gave the same answers.
fn sqlite_queries(
    db_path: &Path,
    data: &Dataset,
    ours: &[(&'static str, f64, Digest)],
) -> BoxResult<()> {
    let conn =
        rusqlite::Connection::open(db_path).context(|| "opening SQLite for queries".into())?;
    tsbs_queries::prepare_sqlite(&conn).context(|| "SQLite query tables".into())?;
    let params = tsbs_queries::Params::new(data);
    let mut log_ratio_sum = 0.0;
    for &(name, our_ms, ref our_digest) in ours {
        let (ms, digest) = tsbs_queries::time_median(QUERY_RUNS, || {
            tsbs_queries::run_sqlite(&conn, name, &params)
        })
        .context(|| format!("SQLite query {name}"))?;
        if !digest.agrees(our_digest) {
            return Err(format!(
                "query {name}: sedimentdb returned {our_digest:?}, SQLite {digest:?}"
            )
            .into());
        }
        let ratio = ms / our_ms.max(1e-6);
        log_ratio_sum += ratio.ln();
        figure(&format!("sqlite_query_{name}_ms"), format!("{ms:.3}"));
        figure(&format!("query_{name}_speedup"), format!("{ratio:.1}"));
    }
    if !ours.is_empty() {
        figure(
            "query_speedup_geomean",
            format!("{:.1}", (log_ratio_sum / ours.len() as f64).exp()),
        );
    }
    Ok(())
}

/// Uses `dir` for the run: created if missing, refused if it holds anything, so that a
/// mistyped path never mixes old files into the sizes.
fn prepare_dir(dir: &Path) -> BoxResult<PathBuf> {
    std::fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
    let mut entries = std::fs::read_dir(dir).context(|| format!("listing {}", dir.display()))?;
    if entries.next().is_some() {
        return Err(format!(
            "{} is not empty; give an empty or new directory to --dir",
            dir.display()
        )
        .into());
    }
    Ok(dir.to_path_buf())
}

struct Ingest {
    points: u64,
    elapsed: Duration,
    non_durable_receipts: u64,
}

/// Loads the dataset time-major in batches of `batch` points. The timed region covers
/// series resolution (each series once, the first time it appears), filling the batch
/// and `write`; drawing the random values is outside it.
fn ingest(db: &Db, data: &Dataset, batch: usize) -> BoxResult<Ingest> {
    let hosts = data.hosts();
    let metric_names: Vec<String> = (0..FIELDS.len()).map(metric_name).collect();
    let mut handles: Vec<Option<SeriesHandle>> = vec![None; data.series()];
    let mut stream = data.stream();
    let mut chunk: Vec<GenPoint> = Vec::with_capacity(batch);
    let mut write_batch = WriteBatch::with_capacity(batch);
    let mut result = Ingest {
        points: 0,
        elapsed: Duration::ZERO,
        non_durable_receipts: 0,
    };
    let report_every = (data.points() / 10).max(1);
    let mut next_report = report_every;
    while stream.fill(&mut chunk, batch) {
        let started = Instant::now();
        for p in &chunk {
            let slot = &mut handles[p.series as usize];
            let handle = match *slot {
                Some(h) => h,
                None => {
                    let host = &hosts[p.series as usize / FIELDS.len()];
                    let key = SeriesKey::from_parts(
                        metric_names[p.series as usize % FIELDS.len()].as_str(),
                        host.tag_pairs(),
                    );
                    let h = db
                        .series(&key)
                        .context(|| format!("creating series {key}"))?;
                    *slot = Some(h);
                    h
                }
            };
            write_batch.push(handle, p.ts, p.value);
        }
        let receipt = db
            .write(&write_batch)
            .context(|| format!("writing a batch after {} points", result.points))?;
        write_batch.clear();
        result.elapsed += started.elapsed();
        result.points += receipt.points as u64;
        if !receipt.durable {
            result.non_durable_receipts += 1;
        }
        if result.points >= next_report {
            eprintln!(
                "  {:>10} points  {:>10.0} points/s",
                result.points,
                rate(result.points, result.elapsed)
            );
            next_report += report_every;
        }
    }
    Ok(result)
}

/// Loads gen.py's file into a fresh database at `dir` with default options through
/// `sedimentdb_formats::load` (the code of `sediment import`): reading, parsing, series
/// resolution and writes, all timed, as the peers' loaders are. The database is checked
/// to hold every point, then removed (the runs below use their own).
fn ingest_file(dir: &Path, path: &Path, precision: Precision, data: &Dataset) -> BoxResult<()> {
    eprintln!("sedimentdb: loading {} (parse included)", path.display());
    let started = Instant::now();
    let db = Db::open(dir, Options::default()).context(|| format!("opening {}", dir.display()))?;
    let file = std::fs::File::open(path).context(|| format!("opening {}", path.display()))?;
    let options = ReadOptions::default().precision(precision);
    let mut reader =
        Format::Influx.reader(std::io::BufReader::with_capacity(1 << 20, file), &options);
    let report = sedimentdb_formats::load(Some(&db), reader.as_mut(), |_| {})
        .context(|| format!("loading {}", path.display()))?;
    let elapsed = started.elapsed();
    figure("ingest_file_secs", secs(elapsed));
    figure(
        "ingest_file_points_per_sec",
        format!("{:.0}", rate(report.points_written, elapsed)),
    );
    figure(
        "ingest_file_mb_per_sec",
        format!(
            "{:.1}",
            report.bytes as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9)
        ),
    );
    if report.points_written != data.points() || report.skipped_lines != 0 {
        return Err(format!(
            "loading {}: {} points written and {} lines skipped; the file holds {} points",
            path.display(),
            report.points_written,
            report.skipped_lines,
            data.points()
        )
        .into());
    }
    let read = verify(&db, data)?;
    db.close().context(|| "close after the file load".into())?;
    drop(db);
    std::fs::remove_dir_all(dir).context(|| format!("removing {}", dir.display()))?;
    eprintln!("file load: {read} points read back, identical to the file");
    Ok(())
}

/// Reads every series back, metric by metric, and compares each one exactly with the
/// dataset's own (timestamps, and values bit for bit). Returns the points read.
fn verify(db: &Db, data: &Dataset) -> BoxResult<u64> {
    let hosts = data.hosts().len();
    let mut seen: HashSet<usize> = HashSet::with_capacity(data.series());
    let mut points = 0u64;
    for field in 0..FIELDS.len() {
        let name = metric_name(field);
        let series = db
            .select(&Selector::metric(name.as_str()), TimeRange::all())
            .context(|| format!("select {name}"))?;
        for s in series {
            let s = s.context(|| format!("reading {name}"))?;
            let host = s
                .key
                .dimension("hostname")
                .and_then(|h| h.strip_prefix("host_"))
                .and_then(|i| i.parse::<usize>().ok())
                .filter(|&i| i < hosts)
                .ok_or_else(|| format!("verify: unexpected series {}", s.key))?;
            let index = host * FIELDS.len() + field;
            if !seen.insert(index) {
                return Err(format!("verify: series {} returned twice", s.key).into());
            }
            let (expected_ts, expected) = data.series_points(index);
            if s.timestamps != expected_ts {
                return Err(format!(
                    "verify: {} has {} timestamps, {} expected, or they differ",
                    s.key,
                    s.timestamps.len(),
                    expected_ts.len()
                )
                .into());
            }
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            if bits(&s.values) != bits(&expected) {
                let at = s
                    .values
                    .iter()
                    .zip(&expected)
                    .position(|(a, b)| a.to_bits() != b.to_bits())
                    .unwrap_or(0);
                return Err(format!(
                    "verify: {} point {at}: read {}, wrote {}",
                    s.key,
                    s.values.get(at).copied().unwrap_or(f64::NAN),
                    expected.get(at).copied().unwrap_or(f64::NAN)
                )
                .into());
            }
            points += s.values.len() as u64;
        }
    }
    if seen.len() != data.series() || points != data.points() {
        return Err(format!(
            "verify: read {} series and {} points, wrote {} series and {} points",
            seen.len(),
            points,
            data.series(),
            data.points()
        )
        .into());
    }
    eprintln!(
        "verify: {} series, {} points, identical to what was written",
        seen.len(),
        points
    );
    Ok(points)
}

struct Replay {
    open_time: Duration,
    points: u64,
}

/// Ingests the dataset into a database that never flushes, drops it without `close` (so
/// everything lives in the WAL only), and times the `open` that replays it.
fn measure_replay(dir: &Path, data: &Dataset, batch: usize) -> BoxResult<Replay> {
    // The head must hold the whole dataset: a budget far above its size and a window
    // longer than the data, so neither trigger fires.
    let span_ns = (data.end() - data.start()).max(0) as u64 + tsbs_data::INTERVAL_NS as u64;
    let data_span = Duration::from_nanos(span_ns);
    let window = data_span.max(Duration::from_secs(48 * 3600)) + Duration::from_secs(3600);
    let options = || {
        Options::default()
            .head_memory_budget(4 << 30)
            .head_window(window)
    };
    eprintln!("replay: ingesting into a database that never flushes");
    let db = Db::open(dir, options()).context(|| format!("opening {}", dir.display()))?;
    let loaded = ingest(&db, data, batch)?;
    let stats = db.stats();
    eprintln!(
        "replay: {} points loaded at {:.0} points/s; head {} points in {} bytes, {} segments, WAL {} bytes; dropping without close",
        loaded.points,
        rate(loaded.points, loaded.elapsed),
        stats.head_points,
        stats.head_bytes,
        stats.segments,
        stats.wal_bytes
    );
    if stats.segments != 0 {
        eprintln!("warning: the replay database flushed during ingest; replay_points covers the WAL part only");
    }
    drop(db);

    let started = Instant::now();
    let db = Db::open(dir, options()).context(|| format!("reopening {}", dir.display()))?;
    let open_time = started.elapsed();
    let report = db.recovery_report().clone();
    let stats = db.stats();
    eprintln!(
        "replay: open took {:.3} s: {} WAL files, {} records, {} points; head now {} points",
        open_time.as_secs_f64(),
        report.wal_files,
        report.wal_records,
        report.replayed_points,
        stats.head_points
    );
    if report.truncated_tail.is_some() || !report.salvaged.is_empty() {
        eprintln!("warning: replay repaired the WAL: {report:?}");
    }
    db.close()
        .context(|| "closing the replayed database".into())?;
    Ok(Replay {
        open_time,
        points: report.replayed_points,
    })
}

fn sqlite(root: &Path, layout: Layout, data: &Dataset, batch: usize) -> BoxResult<SqliteRun> {
    eprintln!(
        "sqlite ({}): ingesting, WAL + synchronous=FULL, one transaction per batch",
        layout.name()
    );
    let run = sqlite_baseline::load(root, layout, data, batch)
        .context(|| format!("SQLite load ({})", layout.name()))?;
    let read = sqlite_baseline::checksum(&run.db_path).context(|| "SQLite read-back".into())?;
    let expected = data.checksum();
    if read != expected || run.series != data.series() {
        return Err(format!(
            "SQLite ({}) holds {:?} in {} series, expected {expected:?} in {}",
            layout.name(),
            read,
            run.series,
            data.series()
        )
        .into());
    }
    eprintln!(
        "sqlite ({}): {} points in {:.1} s = {:.0} points/s, checkpoint {:.3} s, {} bytes = {:.2} bytes/point; read-back ok",
        layout.name(),
        run.points,
        run.ingest.as_secs_f64(),
        run.points_per_sec(),
        run.checkpoint.as_secs_f64(),
        run.bytes,
        run.bytes_per_point()
    );
    Ok(run)
}
