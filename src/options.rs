//! Options for opening a database. Every option documents its default.

use std::sync::Arc;
use std::time::Duration;

use crate::storage::{FileSystem, OsFileSystem, ReadMode};
use crate::types::{duration_ns_saturating, KeyLimits};

/// When a write is acknowledged relative to the WAL reaching stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// fsync the WAL before acknowledging; concurrent writers share one fsync (group
    /// commit). An acknowledged point survives a power cut. The default.
    #[default]
    Sync,
    /// A background thread fsyncs the WAL at this interval; a power cut may lose up to
    /// one interval of acknowledged points, a process crash loses none.
    Periodic(Duration),
    /// Never fsync the WAL except on flush and close; a process crash loses nothing
    /// (the kernel holds the bytes), a power cut may lose everything since the last flush.
    None,
}

/// What replay does with a damaged WAL record that is not the torn tail of the last file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RecoveryMode {
    /// Fail `open` with a corruption error naming file and offset. The default.
    #[default]
    Strict,
    /// Skip the rest of the damaged file and carry on with the next one, reporting what
    /// was skipped in [`crate::Db::recovery_report`]. Points in the skipped bytes are lost.
    Salvage,
}

/// Where retention measures a data age from ([`Options::retention_clock`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RetentionClock {
    /// The system's wall clock, read at each [`crate::Db::apply_retention`]. The
    /// default: one point written with a wrong, far-future timestamp cannot make the
    /// rest of the history look old and have it deleted.
    #[default]
    WallClock,
    /// The newest timestamp in the database (as compaction's tiering does). For replaying
    /// or backfilling historical data, whose age counts from its own end; a wrong
    /// far-future point then ages everything else (bound it with
    /// [`Options::max_future`]).
    NewestPoint,
}

/// What [`crate::Db::open`] does with a segment file that fails its checks (header,
/// trailer, footer, chunk table) or that a bit flip gave a version this build does not
/// know. (A damaged chunk is found only when read; see [`crate::Db::verify`] and
/// [`crate::Db::quarantine_segment`].)
///
/// ```
/// use sedimentdb::{DamagedSegments, Db, Options};
/// let dir = tempfile::tempdir().unwrap();
/// let opts = Options::default().damaged_segments(DamagedSegments::Quarantine);
/// let db = Db::open(dir.path(), opts).unwrap();
/// for set_aside in &db.recovery_report().quarantined {
///     eprintln!("{} set aside: {} points lost", set_aside.segment.display(), set_aside.points);
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DamagedSegments {
    /// Fail `open` with [`crate::Error::Corruption`] naming the file and offset, so that
    /// nothing disappears from the database without someone deciding it. The default.
    #[default]
    Fail,
    /// Copy the file into the database's `quarantine/` directory, drop it from the
    /// manifest (one atomic manifest swap) and open without it, listing it in
    /// [`crate::RecoveryReport::quarantined`]. Every point the segment held is gone from
    /// the database; the file is kept, never deleted by the engine.
    Quarantine,
}

/// Options for [`crate::Db::open`], built with chained setters.
///
/// ```
/// use sedimentdb::{Durability, Options};
/// use std::time::Duration;
/// let opts = Options::default()
///     .durability(Durability::Periodic(Duration::from_millis(100)))
///     .head_memory_budget(64 << 20);
/// assert_eq!(opts.get_head_memory_budget(), 64 << 20);
/// ```
#[derive(Debug, Clone)]
pub struct Options {
    pub(crate) durability: Durability,
    pub(crate) recovery: RecoveryMode,
    pub(crate) damaged_segments: DamagedSegments,
    pub(crate) head_window: i64,
    pub(crate) head_memory_budget: usize,
    pub(crate) partition_duration: i64,
    pub(crate) warm_zstd_level: i32,
    pub(crate) chunk_points: usize,
    pub(crate) warm_duration: i64,
    pub(crate) cold_zstd_level: i32,
    pub(crate) cold_chunk_points: usize,
    pub(crate) retention: Option<i64>,
    pub(crate) retention_rules: Vec<(crate::types::Selector, i64)>,
    pub(crate) retention_clock: RetentionClock,
    pub(crate) max_future: Option<i64>,
    pub(crate) rollups: Vec<(crate::types::Selector, RollupPolicy)>,
    pub(crate) maintenance: Maintenance,
    pub(crate) compaction_io_limit: Option<u64>,
    pub(crate) wal_file_size: u64,
    pub(crate) max_series: u64,
    pub(crate) max_batch_points: usize,
    pub(crate) key_limits: KeyLimits,
    pub(crate) read_mode: ReadMode,
    pub(crate) create_if_missing: bool,
    pub(crate) file_system: Arc<dyn FileSystem>,
}

/// Intervals of the background maintenance thread (see [`crate::Options::maintenance`]).
/// `None` leaves that task to explicit API calls. Built with chained setters (the type
/// may gain tasks, so it cannot be written as a struct literal outside this crate):
///
/// ```
/// use sedimentdb::Maintenance;
/// use std::time::Duration;
/// let plan = Maintenance::new()
///     .flush_every(Duration::from_secs(60))
///     .compact_every(Duration::from_secs(3600));
/// assert_eq!(plan.flush_every, Some(Duration::from_secs(60)));
/// assert_eq!(plan.retention_every, None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Maintenance {
    /// Flush the head at least this often. Default: `None`.
    pub flush_every: Option<Duration>,
    /// Run [`crate::Db::compact`] this often. Default: `None`.
    pub compact_every: Option<Duration>,
    /// Run [`crate::Db::apply_retention`] this often. Default: `None`.
    pub retention_every: Option<Duration>,
}

impl Maintenance {
    /// No background task (the default).
    pub fn new() -> Self {
        Maintenance::default()
    }

    /// Flush the head at least every `interval`.
    pub fn flush_every(mut self, interval: Duration) -> Self {
        self.flush_every = Some(interval);
        self
    }

    /// Run [`crate::Db::compact`] every `interval`.
    pub fn compact_every(mut self, interval: Duration) -> Self {
        self.compact_every = Some(interval);
        self
    }

    /// Run [`crate::Db::apply_retention`] every `interval`.
    pub fn retention_every(mut self, interval: Duration) -> Self {
        self.retention_every = Some(interval);
        self
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.flush_every.is_some() || self.compact_every.is_some() || self.retention_every.is_some()
    }
}

const HOUR_NS: i64 = 3_600_000_000_000;
/// Smallest [`Options::head_memory_budget`].
const MIN_HEAD_MEMORY_BUDGET: usize = 1 << 16;
/// Bounds of [`Options::chunk_points`] and [`Options::cold_chunk_points`] (the upper one
/// is the segment format's bound on a chunk).
const MIN_CHUNK_POINTS: usize = 16;
const MAX_CHUNK_POINTS: usize = 1 << 16;
/// Smallest [`Options::wal_file_size`] and [`Options::compaction_io_limit`].
const MIN_IO_BYTES: u64 = 4096;

impl Default for Options {
    fn default() -> Self {
        Options {
            durability: Durability::Sync,
            recovery: RecoveryMode::Strict,
            damaged_segments: DamagedSegments::Fail,
            head_window: 2 * HOUR_NS,
            head_memory_budget: 256 << 20,
            partition_duration: 24 * HOUR_NS,
            warm_zstd_level: 3,
            chunk_points: 2048,
            warm_duration: 30 * 24 * HOUR_NS,
            cold_zstd_level: 15,
            cold_chunk_points: 16384,
            retention: None,
            retention_rules: Vec::new(),
            retention_clock: RetentionClock::WallClock,
            max_future: Some(24 * HOUR_NS),
            rollups: Vec::new(),
            maintenance: Maintenance::default(),
            compaction_io_limit: None,
            wal_file_size: 64 << 20,
            max_series: 10_000_000,
            max_batch_points: 1_000_000,
            key_limits: KeyLimits::default(),
            read_mode: ReadMode::Mmap,
            create_if_missing: true,
            file_system: Arc::new(OsFileSystem),
        }
    }
}

impl Options {
    /// WAL durability. Default: [`Durability::Sync`].
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// What replay does with damage in the middle of the WAL. Default: [`RecoveryMode::Strict`].
    pub fn recovery_mode(mut self, mode: RecoveryMode) -> Self {
        self.recovery = mode;
        self
    }

    /// What open does with a damaged segment file. Default: [`DamagedSegments::Fail`].
    pub fn damaged_segments(mut self, policy: DamagedSegments) -> Self {
        self.damaged_segments = policy;
        self
    }

    /// Span of time the hot head holds before it is flushed to a segment, measured from
    /// its oldest to its newest timestamp. Default: 2 hours.
    pub fn head_window(mut self, window: Duration) -> Self {
        self.head_window = duration_ns_saturating(window);
        self
    }

    /// Bytes of memory the head may use; at the budget it is flushed and writers wait for
    /// the flush (backpressure). At least 64 KiB ([`crate::Db::open`] refuses less).
    /// Default: 256 MiB.
    pub fn head_memory_budget(mut self, bytes: usize) -> Self {
        self.head_memory_budget = bytes;
        self
    }

    /// The head memory budget in bytes.
    pub fn get_head_memory_budget(&self) -> usize {
        self.head_memory_budget
    }

    /// Length of a time partition; every segment holds points of one partition. At
    /// least 1 ns. Default: 1 day.
    pub fn partition_duration(mut self, duration: Duration) -> Self {
        self.partition_duration = duration_ns_saturating(duration);
        self
    }

    /// zstd level for segments written by a flush, 1..=22. Default: 3.
    pub fn warm_zstd_level(mut self, level: i32) -> Self {
        self.warm_zstd_level = level;
        self
    }

    /// Most points in one segment chunk (a chunk is the unit of decompression and of
    /// statistics), 16..=65536. Default: 2048.
    pub fn chunk_points(mut self, points: usize) -> Self {
        self.chunk_points = points;
        self
    }

    /// Age (behind the newest point in the database) after which a partition is cold:
    /// compaction rewrites it into one dense segment. Default: 30 days.
    pub fn warm_duration(mut self, duration: Duration) -> Self {
        self.warm_duration = duration_ns_saturating(duration);
        self
    }

    /// zstd level for cold segments, 1..=22. Default: 15 (cold data is written once and
    /// read rarely; on the TSBS data 15 is 2% smaller than 9 at half the speed).
    pub fn cold_zstd_level(mut self, level: i32) -> Self {
        self.cold_zstd_level = level;
        self
    }

    /// Most points in one chunk of a cold segment, 16..=65536. Default: 16384 (a day of
    /// 10 s samples in about one chunk; fewer chunks mean fewer per-chunk headers and
    /// statistics).
    pub fn cold_chunk_points(mut self, points: usize) -> Self {
        self.cold_chunk_points = points;
        self
    }

    /// How long data is kept, measured back from the wall clock (or the newest point,
    /// see [`Options::retention_clock`]); [`crate::Db::apply_retention`] drops segments
    /// wholly older than that. Default: forever.
    pub fn retention(mut self, duration: Duration) -> Self {
        self.retention = Some(duration_ns_saturating(duration));
        self
    }

    /// Keeps the series matching `selector` only for `duration` (measured back as
    /// [`Options::retention`] is), e.g. user metrics 30 days while the rest is kept a
    /// year. [`crate::Db::apply_retention`] deletes their older points with a tombstone
    /// (invisible at once, removed from disk by the next compaction). Rules add to
    /// [`Options::retention`]; the shortest applicable period wins. Default: none.
    pub fn retention_for(mut self, selector: crate::types::Selector, duration: Duration) -> Self {
        self.retention_rules
            .push((selector, duration_ns_saturating(duration)));
        self
    }

    /// Where every retention period ([`Options::retention`], [`Options::retention_for`],
    /// the rollup policies' retentions) is measured back from. Default:
    /// [`RetentionClock::WallClock`].
    pub fn retention_clock(mut self, clock: RetentionClock) -> Self {
        self.retention_clock = clock;
        self
    }

    /// How far ahead of the wall clock a written timestamp may be; a batch holding a
    /// later one is refused with [`crate::Error::FutureTimestamp`] and nothing of it is
    /// written. `None` accepts any timestamp up to [`crate::MAX_TIMESTAMP`] (for data
    /// whose timestamps are not wall-clock times). Default: 24 hours.
    ///
    /// ```
    /// use sedimentdb::{Db, Error, Options, SeriesKey, WriteBatch};
    /// use std::time::{Duration, SystemTime, UNIX_EPOCH};
    /// let dir = tempfile::tempdir().unwrap();
    /// let opts = Options::default().max_future(Some(Duration::from_secs(3600)));
    /// let db = Db::open(dir.path(), opts).unwrap();
    /// let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as i64;
    /// let mut batch = WriteBatch::new();
    /// batch.push_key(&SeriesKey::new("m"), now + 2 * 3_600_000_000_000, 1.0);
    /// assert!(matches!(db.write(&batch), Err(Error::FutureTimestamp { .. })));
    /// ```
    pub fn max_future(mut self, ahead: Option<Duration>) -> Self {
        self.max_future = ahead.map(duration_ns_saturating);
        self
    }

    /// Keeps downsampled rollups of the series matching `selector` (see
    /// [`RollupPolicy`]): when compaction makes a partition cold it also writes, per
    /// series and per `resolution` bucket, the count, sum, min, max, first, last and the
    /// sum of squared deviations of its points. Queries whose buckets are a multiple of
    /// the resolution (or that aggregate a whole range) read those instead of the raw
    /// points, with the same answer; the raw points may then be dropped earlier than the
    /// rollups ([`RollupPolicy::raw_retention`]). Policies are tried in the order given;
    /// a series takes the first whose selector matches it. [`crate::Db::open`] refuses
    /// bad policies with [`crate::Error::InvalidArgument`]. Default: none.
    ///
    /// ```
    /// use sedimentdb::{Options, RollupPolicy, Selector};
    /// use std::time::Duration;
    /// let day = Duration::from_secs(86_400);
    /// let opts = Options::default().rollup(
    ///     Selector::metric("cpu_usage"),
    ///     RollupPolicy::new(Duration::from_secs(300))
    ///         .raw_retention(30 * day)
    ///         .retention(365 * day),
    /// );
    /// assert_eq!(opts.rollup_policies().len(), 1);
    /// ```
    pub fn rollup(mut self, selector: crate::types::Selector, policy: RollupPolicy) -> Self {
        self.rollups.push((selector, policy));
        self
    }

    /// The rollup policies, in the order given to [`Options::rollup`].
    pub fn rollup_policies(&self) -> &[(crate::types::Selector, RollupPolicy)] {
        &self.rollups
    }

    /// Checks the options that can be wrong whatever the directory holds: a value out of
    /// its documented range is [`crate::Error::InvalidArgument`] naming the option, never
    /// silently replaced by the nearest allowed one.
    pub(crate) fn validate(&self) -> crate::Result<()> {
        fn check<T: PartialOrd + std::fmt::Display>(
            option: &str,
            value: T,
            min: T,
            max: T,
        ) -> crate::Result<()> {
            if value < min || value > max {
                return Err(crate::Error::invalid(format!(
                    "Options::{option} is {value}, outside {min}..={max}"
                )));
            }
            Ok(())
        }
        check(
            "head_memory_budget",
            self.head_memory_budget,
            MIN_HEAD_MEMORY_BUDGET,
            usize::MAX,
        )?;
        check(
            "partition_duration (ns)",
            self.partition_duration,
            1,
            i64::MAX,
        )?;
        check("warm_zstd_level", self.warm_zstd_level, 1, 22)?;
        check("cold_zstd_level", self.cold_zstd_level, 1, 22)?;
        check(
            "chunk_points",
            self.chunk_points,
            MIN_CHUNK_POINTS,
            MAX_CHUNK_POINTS,
        )?;
        check(
            "cold_chunk_points",
            self.cold_chunk_points,
            MIN_CHUNK_POINTS,
            MAX_CHUNK_POINTS,
        )?;
        if let Some(limit) = self.compaction_io_limit {
            check("compaction_io_limit", limit, MIN_IO_BYTES, u64::MAX)?;
        }
        check("wal_file_size", self.wal_file_size, MIN_IO_BYTES, u64::MAX)?;
        check("max_batch_points", self.max_batch_points, 1, usize::MAX)?;
        for (i, (_, policy)) in self.rollups.iter().enumerate() {
            policy
                .validate(self.partition_duration)
                .map_err(|why| crate::Error::invalid(format!("rollup policy {i}: {why}")))?;
        }
        Ok(())
    }

    /// Starts a background thread (owned by the `Db`, stopped on close) that flushes,
    /// compacts and applies retention at these intervals. Writers are held only for the
    /// short manifest swaps. Default: off.
    pub fn maintenance(mut self, plan: Maintenance) -> Self {
        self.maintenance = plan;
        self
    }

    /// Caps the bytes per second compaction writes, so that background compaction does
    /// not starve the service's own disk I/O. At least 4096. Default: no cap.
    pub fn compaction_io_limit(mut self, bytes_per_sec: u64) -> Self {
        self.compaction_io_limit = Some(bytes_per_sec);
        self
    }

    /// Size at which a WAL file is closed and a new one started. At least 4096.
    /// Default: 64 MiB.
    pub fn wal_file_size(mut self, bytes: u64) -> Self {
        self.wal_file_size = bytes;
        self
    }

    /// Most series the database may hold; creating more fails with
    /// [`crate::Error::LimitExceeded`]. Default: 10 million.
    pub fn max_series(mut self, series: u64) -> Self {
        self.max_series = series;
        self
    }

    /// Most points in one write batch, at least 1. Default: 1 million.
    pub fn max_batch_points(mut self, points: usize) -> Self {
        self.max_batch_points = points;
        self
    }

    /// Limits on series names and dimensions. Default: [`KeyLimits::default`] (name 256
    /// bytes, 32 dimensions, keys 128 bytes, values 1024 bytes).
    pub fn key_limits(mut self, limits: KeyLimits) -> Self {
        self.key_limits = limits;
        self
    }

    /// How segment files are read. Default: [`ReadMode::Mmap`].
    pub fn read_mode(mut self, mode: ReadMode) -> Self {
        self.read_mode = mode;
        self
    }

    /// Create the database when the directory does not hold one. Default: true.
    pub fn create_if_missing(mut self, create: bool) -> Self {
        self.create_if_missing = create;
        self
    }

    /// The file system all I/O goes through. Default: [`OsFileSystem`]. Tests put a
    /// fault-injecting implementation here.
    pub fn file_system(mut self, fs: Arc<dyn FileSystem>) -> Self {
        self.file_system = fs;
        self
    }
}

/// Most rollup buckets per series and partition: the partition length divided by the
/// resolution may not exceed it (one rollup block per series and partition).
pub const MAX_ROLLUP_BUCKETS: i64 = 1 << 16;

/// How one group of series is downsampled for cold storage (see [`Options::rollup`]).
///
/// Built with [`RollupPolicy::new`] and chained setters:
///
/// - `resolution`: the rollup bucket width. It must be positive and divide
///   [`Options::partition_duration`] (so that buckets never straddle partitions and
///   nest in every query bucket that is a multiple of it), with at most
///   [`MAX_ROLLUP_BUCKETS`] buckets per partition.
/// - `raw_retention`: after this age (measured back as all retention is, see
///   [`Options::retention_clock`]) [`crate::Db::apply_retention`] may drop the raw points of a partition
///   whose segments hold only series whose rollups cover them. Default: `None`, the raw
///   points follow [`Options::retention`].
/// - `retention`: after this age the rollups themselves are dropped. Default: `None`,
///   kept forever. Must not be shorter than `raw_retention`. Where several policies
///   share a resolution (they share rollup files), the longest retention among them
///   applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollupPolicy {
    pub(crate) resolution: i64,
    pub(crate) raw_retention: Option<i64>,
    pub(crate) retention: Option<i64>,
    /// A duration too long for i64 nanoseconds was given; refused at open.
    overflow: bool,
}

impl RollupPolicy {
    /// Rollups in buckets of `resolution`, raw points and rollups kept as long as the
    /// database's retention allows.
    pub fn new(resolution: Duration) -> Self {
        let ns = i64::try_from(resolution.as_nanos());
        RollupPolicy {
            resolution: ns.unwrap_or(0),
            raw_retention: None,
            retention: None,
            overflow: ns.is_err(),
        }
    }

    /// Raw points of the covered series may be dropped after `age`. Default: none.
    pub fn raw_retention(mut self, age: Duration) -> Self {
        let ns = i64::try_from(age.as_nanos());
        self.overflow |= ns.is_err();
        self.raw_retention = ns.ok();
        self
    }

    /// The rollups are dropped after `age`. Default: kept forever.
    pub fn retention(mut self, age: Duration) -> Self {
        let ns = i64::try_from(age.as_nanos());
        self.overflow |= ns.is_err();
        self.retention = ns.ok();
        self
    }

    /// The bucket width in nanoseconds.
    pub fn resolution_ns(&self) -> i64 {
        self.resolution
    }

    fn validate(&self, partition_duration: i64) -> Result<(), String> {
        if self.overflow {
            return Err("a duration does not fit in i64 nanoseconds".into());
        }
        if self.resolution <= 0 {
            return Err("the resolution must be positive".into());
        }
        if partition_duration % self.resolution != 0 {
            return Err(format!(
                "the resolution ({} ns) does not divide the partition duration ({} ns)",
                self.resolution, partition_duration
            ));
        }
        if partition_duration / self.resolution > MAX_ROLLUP_BUCKETS {
            return Err(format!(
                "the resolution ({} ns) makes more than {MAX_ROLLUP_BUCKETS} buckets per partition",
                self.resolution
            ));
        }
        if self.raw_retention.is_some_and(|r| r <= 0) || self.retention.is_some_and(|r| r <= 0) {
            return Err("retention periods must be positive".into());
        }
        if let (Some(raw), Some(rollup)) = (self.raw_retention, self.retention) {
            if rollup < raw {
                return Err("the rollup retention is shorter than the raw retention".into());
            }
        }
        Ok(())
    }
}
