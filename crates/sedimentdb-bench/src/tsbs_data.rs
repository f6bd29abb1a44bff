//! In-process TSBS "devops cpu-only" data, of the same shape as `/work/shared/bench/gen.py`.
//!
//! * `hosts` hosts `host_0..`, each with the ten TSBS tags drawn from the TSBS choice lists.
//! * Ten cpu fields per host; each is a random walk clamped to [0, 100] that starts at
//!   uniform(0, 100) and takes N(0, 1) steps. The walk runs on the unrounded value (as in
//!   gen.py); what is emitted is the value rounded to 0.01, `(x * 100).round() / 100`.
//! * One point every 10 s from 2016-01-01T00:00:00Z (the TSBS default start).
//! * Points come out time-major, as TSBS loads them: for each timestamp, for each host,
//!   for each field.
//!
//! Every (host, field) walk has its own seeded generator, so a series' values do not
//! depend on the order in which the dataset is traversed: a checker can regenerate one
//! series on its own. The generators are local (SplitMix64 + Box-Muller): the data has
//! gen.py's distribution and shape, not its exact bytes.
//!
//! This file depends on `std` only, so benches can include it with
//! `#[path = "../examples/common/tsbs_data.rs"] mod tsbs_data;`.
#![allow(dead_code)] // each includer uses a different part

/// The ten cpu fields, in TSBS order. Series names are `cpu_<field>`.
pub const FIELDS: [&str; 10] = [
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_nice",
    "usage_iowait",
    "usage_irq",
    "usage_softirq",
    "usage_steal",
    "usage_guest",
    "usage_guest_nice",
];

/// Tag keys of a host, in TSBS order.
pub const TAG_KEYS: [&str; 10] = [
    "hostname",
    "region",
    "datacenter",
    "rack",
    "os",
    "arch",
    "team",
    "service",
    "service_version",
    "service_environment",
];

// Choice lists as in TSBS cmd/tsbs_generate_data/devops/host.go (and gen.py).
const REGIONS: [(&str, &[&str]); 9] = [
    (
        "us-east-1",
        &["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1e"],
    ),
    ("us-west-1", &["us-west-1a", "us-west-1b"]),
    ("us-west-2", &["us-west-2a", "us-west-2b", "us-west-2c"]),
    ("eu-west-1", &["eu-west-1a", "eu-west-1b", "eu-west-1c"]),
    ("eu-central-1", &["eu-central-1a", "eu-central-1b"]),
    ("ap-southeast-1", &["ap-southeast-1a", "ap-southeast-1b"]),
    ("ap-southeast-2", &["ap-southeast-2a", "ap-southeast-2b"]),
    ("ap-northeast-1", &["ap-northeast-1a", "ap-northeast-1c"]),
    ("sa-east-1", &["sa-east-1a", "sa-east-1b", "sa-east-1c"]),
];
const OS_CHOICES: [&str; 3] = ["Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"];
const ARCH_CHOICES: [&str; 2] = ["x64", "x86"];
const TEAM_CHOICES: [&str; 4] = ["SF", "NYC", "LON", "CHI"];
const ENV_CHOICES: [&str; 3] = ["production", "staging", "test"];
const RACKS: u64 = 100;
const SERVICES: u64 = 20;
const SERVICE_VERSIONS: u64 = 2;

/// 2016-01-01T00:00:00Z in nanoseconds since the Unix epoch.
pub const START_NS: i64 = 1_451_606_400 * 1_000_000_000;
/// Seconds between two points of a series.
pub const INTERVAL_SECS: i64 = 10;
/// [`INTERVAL_SECS`] in nanoseconds.
pub const INTERVAL_NS: i64 = INTERVAL_SECS * 1_000_000_000;

/// SplitMix64: tiny, fast, and good enough for benchmark data.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
    spare_normal: Option<f64>,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 {
            state: seed,
            spare_normal: None,
        }
    }

    /// A generator for stream `stream` of `seed`, decorrelated from its neighbours.
    pub fn for_stream(seed: u64, stream: u64) -> Self {
        let mut mixer = SplitMix64::new(seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F));
        SplitMix64::new(mixer.next_u64())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `0..n` (`n > 0`); the modulo bias is below 2^-40 for the small `n` used here.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// One element of `choices`, uniformly.
    pub fn choose<'a, T>(&mut self, choices: &'a [T]) -> &'a T {
        &choices[self.below(choices.len() as u64) as usize]
    }

    /// Standard normal N(0, 1) by Box-Muller; the second value of each pair is kept for
    /// the next call.
    pub fn next_normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        // 1 - u lies in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        let radius = (-2.0 * u1.ln()).sqrt();
        let angle = std::f64::consts::TAU * u2;
        self.spare_normal = Some(radius * angle.sin());
        radius * angle.cos()
    }
}

/// The static tags of one host, values in [`TAG_KEYS`] order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub tags: [String; 10],
}

impl Host {
    /// `(key, value)` pairs in [`TAG_KEYS`] order.
    pub fn tag_pairs(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        TAG_KEYS
            .iter()
            .copied()
            .zip(self.tags.iter().map(String::as_str))
    }

    /// The host name (`host_<i>`).
    pub fn hostname(&self) -> &str {
        &self.tags[0]
    }
}

/// The hosts of a dataset, tags drawn as gen.py draws them (same lists, same order of draws).
pub fn make_hosts(n: usize, seed: u64) -> Vec<Host> {
    let mut rng = SplitMix64::for_stream(seed, u64::MAX);
    (0..n)
        .map(|i| {
            let (region, datacenters) = *rng.choose(&REGIONS);
            let rack = rng.below(RACKS);
            let service = rng.below(SERVICES);
            let service_version = rng.below(SERVICE_VERSIONS);
            let env = *rng.choose(&ENV_CHOICES);
            let datacenter = *rng.choose(datacenters);
            let os = *rng.choose(&OS_CHOICES);
            let arch = *rng.choose(&ARCH_CHOICES);
            let team = *rng.choose(&TEAM_CHOICES);
            Host {
                tags: [
                    format!("host_{i}"),
                    region.to_string(),
                    datacenter.to_string(),
                    rack.to_string(),
                    os.to_string(),
                    arch.to_string(),
                    team.to_string(),
                    service.to_string(),
                    service_version.to_string(),
                    env.to_string(),
                ],
            }
        })
        .collect()
}

/// Metric name of field `f`: `cpu_<field>`.
pub fn metric_name(field: usize) -> String {
    format!("cpu_{}", FIELDS[field])
}

/// Shape of a dataset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    pub hosts: usize,
    /// Number of timestamps per series.
    pub timestamps: usize,
    pub seed: u64,
}

impl Shape {
    /// `hosts` hosts over `hours` hours (fractions allowed, like gen.py's `--hours`).
    pub fn new(hosts: usize, hours: f64, seed: u64) -> Self {
        let timestamps = (hours * 3600.0 / INTERVAL_SECS as f64).round().max(0.0) as usize;
        Shape {
            hosts,
            timestamps,
            seed,
        }
    }

    /// Series in the dataset: one per (host, field).
    pub fn series(&self) -> usize {
        self.hosts * FIELDS.len()
    }

    /// Points in the dataset.
    pub fn points(&self) -> u64 {
        self.series() as u64 * self.timestamps as u64
    }

    /// Timestamp of the `i`-th point of every series.
    pub fn timestamp(&self, i: usize) -> i64 {
        START_NS + i as i64 * INTERVAL_NS
    }

    /// Index of the series of (`host`, `field`); the order in which a time-major pass
    /// meets the series.
    pub fn series_index(&self, host: usize, field: usize) -> usize {
        host * FIELDS.len() + field
    }

    /// The walk of series `series_index`, ready to produce its first value.
    pub fn walk(&self, series_index: usize) -> Walk {
        Walk::new(self.seed, series_index as u64)
    }

    /// All values of one series, in time order (for checks; the loaders stream).
    pub fn series_values(&self, series_index: usize) -> Vec<f64> {
        let mut walk = self.walk(series_index);
        (0..self.timestamps).map(|_| walk.next_value()).collect()
    }

    /// A time-major stream over the whole dataset.
    pub fn stream(&self) -> PointStream {
        PointStream {
            shape: *self,
            walks: (0..self.series()).map(|s| self.walk(s)).collect(),
            next_ts: 0,
            next_series: 0,
        }
    }
}

/// One clamped random walk: start uniform(0, 100), steps N(0, 1), clamped to [0, 100].
#[derive(Debug, Clone)]
pub struct Walk {
    rng: SplitMix64,
    value: f64,
}

impl Walk {
    fn new(seed: u64, stream: u64) -> Self {
        let mut rng = SplitMix64::for_stream(seed, stream);
        let value = rng.next_f64() * 100.0;
        Walk { rng, value }
    }

    /// Takes one step and returns the new value rounded to 0.01.
    pub fn next_value(&mut self) -> f64 {
        self.value = (self.value + self.rng.next_normal()).clamp(0.0, 100.0);
        round_cents(self.value)
    }
}

/// `x` rounded to two decimals, as gen.py prints it (`%.2f`) and parsers read it back.
pub fn round_cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A value of the dataset as integer hundredths; exact, since every value is a rounded
/// multiple of 0.01 in [0, 100]. Used for exact checksums.
pub fn cents(value: f64) -> i64 {
    (value * 100.0).round() as i64
}

/// One generated point; `series` indexes [`Shape::series_index`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenPoint {
    pub series: u32,
    pub ts: i64,
    pub value: f64,
}

/// Time-major stream over a dataset, handed out in caller-sized chunks so that loaders
/// never hold the whole dataset in memory.
#[derive(Debug, Clone)]
pub struct PointStream {
    shape: Shape,
    walks: Vec<Walk>,
    next_ts: usize,
    next_series: usize,
}

impl PointStream {
    /// Replaces the contents of `out` with the next (at most) `n` points. Returns false
    /// when the stream is exhausted and `out` is empty.
    pub fn fill(&mut self, out: &mut Vec<GenPoint>, n: usize) -> bool {
        out.clear();
        let series_count = self.walks.len();
        while out.len() < n && self.next_ts < self.shape.timestamps && series_count > 0 {
            let ts = self.shape.timestamp(self.next_ts);
            let series = self.next_series;
            out.push(GenPoint {
                series: series as u32,
                ts,
                value: self.walks[series].next_value(),
            });
            self.next_series += 1;
            if self.next_series == series_count {
                self.next_series = 0;
                self.next_ts += 1;
            }
        }
        !out.is_empty()
    }
}

/// Exact summary of a set of points: count and sum of the values in hundredths. Two
/// stores that return the same points produce the same checksum, whatever the order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checksum {
    pub points: u64,
    pub cents: i128,
}

impl Checksum {
    pub fn add(&mut self, value: f64) {
        self.points += 1;
        self.cents += cents(value) as i128;
    }

    /// The checksum of a whole dataset, regenerated series by series.
    pub fn of_dataset(shape: &Shape) -> Checksum {
        let mut sum = Checksum::default();
        for s in 0..shape.series() {
            let mut walk = shape.walk(s);
            for _ in 0..shape.timestamps {
                sum.add(walk.next_value());
            }
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_is_time_major_and_complete() {
        let shape = Shape::new(3, 0.1, 7); // 36 timestamps
        assert_eq!(shape.timestamps, 36);
        assert_eq!(shape.points(), 3 * 10 * 36);
        let mut stream = shape.stream();
        let mut chunk = Vec::new();
        let mut all = Vec::new();
        while stream.fill(&mut chunk, 100) {
            assert!(chunk.len() <= 100);
            all.extend_from_slice(&chunk);
        }
        assert_eq!(all.len() as u64, shape.points());
        for (i, p) in all.iter().enumerate() {
            assert_eq!(p.series as usize, i % 30);
            assert_eq!(p.ts, START_NS + (i / 30) as i64 * INTERVAL_NS);
        }
        // Each series of the stream equals the series regenerated on its own.
        for s in 0..30 {
            let from_stream: Vec<f64> = all
                .iter()
                .filter(|p| p.series as usize == s)
                .map(|p| p.value)
                .collect();
            assert_eq!(from_stream, shape.series_values(s));
        }
    }

    #[test]
    fn values_are_rounded_and_clamped() {
        let shape = Shape::new(2, 24.0, 1);
        for s in 0..shape.series() {
            for v in shape.series_values(s) {
                assert!((0.0..=100.0).contains(&v));
                assert_eq!(v, round_cents(v));
                assert_eq!(cents(v) as f64 / 100.0, v);
            }
        }
    }

    #[test]
    fn normal_steps_have_unit_variance() {
        let mut rng = SplitMix64::new(42);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| rng.next_normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
    }

    #[test]
    fn hosts_use_tsbs_choices_and_are_deterministic() {
        let a = make_hosts(50, 123);
        assert_eq!(a, make_hosts(50, 123));
        assert_ne!(a, make_hosts(50, 124));
        for (i, h) in a.iter().enumerate() {
            assert_eq!(h.hostname(), format!("host_{i}"));
            let (_, dcs) = REGIONS.iter().find(|(r, _)| *r == h.tags[1]).unwrap();
            assert!(dcs.contains(&h.tags[2].as_str()));
            assert!(h.tags[3].parse::<u64>().unwrap() < RACKS);
            assert!(OS_CHOICES.contains(&h.tags[4].as_str()));
        }
    }

    #[test]
    fn checksum_matches_stream() {
        let shape = Shape::new(4, 0.5, 9);
        let mut stream = shape.stream();
        let mut chunk = Vec::new();
        let mut sum = Checksum::default();
        while stream.fill(&mut chunk, 77) {
            chunk.iter().for_each(|p| sum.add(p.value));
        }
        assert_eq!(sum, Checksum::of_dataset(&shape));
    }
}
