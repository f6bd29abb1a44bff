//! A deterministic dataset shaped like the collector's metrics, for examples, tests,
//! benchmarks and the README's screenshots: six metrics over the collector's sources
//! (latency, CPU, memory, satisfaction, learning confidence, feature use) with daily
//! cycles, a degrading command, spikes, and stored alert transitions.
//!
//! The same arguments always write the same points, whatever the machine or the clock.

use std::time::Duration;

use sedimentdb::{Db, SeriesKey, Timestamp, WriteBatch};

use crate::error::Result;
use crate::select::ALERT_METRIC;

/// How much to write.
#[derive(Debug, Clone, Copy)]
pub struct SampleData {
    /// The newest point is just before this.
    pub end: Timestamp,
    /// How far back the points go (two report periods for a report with a previous
    /// period).
    pub span: Duration,
    /// Time between two points of a series.
    pub interval: Duration,
    /// Hosts (the series count is `20 × hosts`).
    pub hosts: usize,
}

/// The commands of the latency and satisfaction metrics.
pub const COMMANDS: [&str; 4] = ["analyze", "export", "search", "user-prefs"];

/// 2026-12-01T00:00:00Z, the `end` of the tests' data.
pub const SAMPLE_END: Timestamp = 1_796_083_200_000_000_000;

impl SampleData {
    /// 14 days up to [`SAMPLE_END`], a point every 30 minutes, 2 hosts (40 series).
    pub fn small() -> Self {
        SampleData {
            end: SAMPLE_END,
            span: Duration::from_secs(14 * 86_400),
            interval: Duration::from_secs(1800),
            hosts: 2,
        }
    }

    /// The series this writes.
    pub fn series(&self) -> usize {
        20 * self.hosts
    }

    /// Writes the dataset; returns the number of points written.
    pub fn write(&self, db: &Db) -> Result<u64> {
        let step = self.interval.as_nanos() as i64;
        let span = self.span.as_nanos() as i64;
        let start = self.end - span;
        let n = (span / step) as usize;
        let day = 86_400_000_000_000f64;
        let mut keys: Vec<(SeriesKey, Shape)> = Vec::new();
        let collector = |name: &str, source: &str, category: &str, unit: &str| {
            SeriesKey::new(name)
                .with("source", source)
                .with("category", category)
                .with("unit", unit)
        };
        for h in 0..self.hosts {
            let host = format!("host-{h:03}");
            for (c, command) in COMMANDS.iter().enumerate() {
                let k = collector("command_execution_time", "performance", "latency", "ms")
                    .with("command", *command)
                    .with("host", host.clone());
                keys.push((
                    k,
                    Shape::Latency {
                        command: c,
                        host: h,
                    },
                ));
                let k = collector("satisfaction_score", "user", "feedback", "score")
                    .with("command", *command)
                    .with("host", host.clone());
                keys.push((k, Shape::Satisfaction { command: c }));
            }
            for r in 0..4 {
                let k = collector("cpu_usage", "system", "resource", "percent")
                    .with("host", host.clone())
                    .with("core", r.to_string());
                keys.push((k, Shape::Cpu { host: h, core: r }));
                let k = collector("memory_used", "system", "resource", "bytes")
                    .with("host", host.clone())
                    .with("pool", r.to_string());
                keys.push((k, Shape::Memory { pool: r }));
            }
            for (m, model) in ["m1", "m2"].iter().enumerate() {
                let k = collector("learning_confidence", "learning", "learning", "ratio")
                    .with("model", *model)
                    .with("host", host.clone());
                keys.push((k, Shape::Confidence { model: m }));
            }
            for (t, tier) in ["basic", "advanced"].iter().enumerate() {
                let k = collector("feature_used", "business", "adoption", "count")
                    .with("tier", *tier)
                    .with("host", host.clone());
                keys.push((k, Shape::Feature { tier: t }));
            }
        }
        let handles = db.series_many(&keys.iter().map(|k| k.0.clone()).collect::<Vec<_>>())?;
        let mut written = 0u64;
        let mut batch = WriteBatch::with_capacity(100_000);
        for i in 0..n {
            let ts = start + i as i64 * step;
            let days = (ts - start) as f64 / day;
            let recent = (ts - (self.end - span / 2)) as f64 / day; // < 0 in the first half
            let phase = (days * std::f64::consts::TAU).sin();
            for (s, ((_, shape), handle)) in keys.iter().zip(&handles).enumerate() {
                let noise = unit_noise(s as u64, i as u64) - 0.5;
                let v = shape.value(phase, recent, noise, ts, self.end, step);
                batch.push(*handle, ts, v);
            }
            if batch.len() >= 100_000 {
                written += batch.len() as u64;
                db.write(&batch)?;
                batch = WriteBatch::with_capacity(100_000);
            }
        }
        written += batch.len() as u64;
        if !batch.is_empty() {
            db.write(&batch)?;
        }
        written += self.write_alerts(db)?;
        Ok(written)
    }

    /// Alert transitions as the collector stores them: `slow_commands` fired 2 days
    /// before the end, resolved a day later, and fires again 3 hours before the end;
    /// `cpu_hot` fired and resolved during the first half.
    fn write_alerts(&self, db: &Db) -> Result<u64> {
        let hour = 3_600_000_000_000i64;
        let alert = |rule: &str, severity: &str| {
            SeriesKey::new(ALERT_METRIC)
                .with("source", "system")
                .with("category", "alerting")
                .with("rule", rule)
                .with("severity", severity)
        };
        let mut batch = WriteBatch::new();
        let slow = alert("slow_commands", "critical").with("command", "user-prefs");
        for (at, v) in [(48, 1.0), (24, 0.0), (3, 1.0)] {
            batch.push_key(&slow, self.end - at * hour, v);
        }
        let hot = alert("cpu_hot", "warning").with("host", "host-000");
        let half = (self.span.as_nanos() as i64) / 2;
        for (at, v) in [(half + 10 * hour, 1.0), (half + 9 * hour, 0.0)] {
            batch.push_key(&hot, self.end - at, v);
        }
        db.write(&batch)?;
        Ok(batch.len() as u64)
    }
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    Latency { command: usize, host: usize },
    Satisfaction { command: usize },
    Cpu { host: usize, core: usize },
    Memory { pool: usize },
    Confidence { model: usize },
    Feature { tier: usize },
}

impl Shape {
    /// The value at one time. `phase` is the daily sine, `recent` days since the
    /// middle of the data (negative before), `noise` in [-0.5, 0.5).
    fn value(
        self,
        phase: f64,
        recent: f64,
        noise: f64,
        ts: Timestamp,
        end: Timestamp,
        step: i64,
    ) -> f64 {
        let hour = 3_600_000_000_000i64;
        // The hour starting `hours_before_end` hours before the end (at least one point).
        let near = |hours_before_end: i64| {
            let from = end - hours_before_end * hour;
            (from..from + hour.max(step)).contains(&ts)
        };
        match self {
            Shape::Latency { command, host } => {
                let base = [120.0, 340.0, 80.0, 260.0][command];
                // user-prefs gets slower through the second half: the degrading driver.
                let drift = if command == 3 && recent > 0.0 {
                    recent * 140.0
                } else {
                    0.0
                };
                let spike = if host == 0 && command == 1 && near(30) {
                    2600.0
                } else {
                    0.0
                };
                base * (1.0 + 0.15 * phase) + drift + spike + noise * base * 0.1
            }
            Shape::Satisfaction { command } => {
                let base = [4.4, 4.1, 4.5, 4.0][command];
                let drop = if command == 3 && recent > 0.0 {
                    recent * 0.25
                } else {
                    0.0
                };
                (base - drop + noise * 0.2).clamp(1.0, 5.0)
            }
            Shape::Cpu { host, core } => {
                let spike = if host == 0 && core == 0 && near(52) {
                    55.0
                } else {
                    0.0
                };
                (38.0 + 6.0 * phase + 3.0 * core as f64 + noise * 4.0 + spike).clamp(0.0, 100.0)
            }
            Shape::Memory { pool } => 2.0e9 + pool as f64 * 2.5e8 + 1.0e8 * phase + noise * 2.0e7,
            Shape::Confidence { model } => {
                let base = [0.82, 0.64][model];
                (base + 0.04 * phase + noise * 0.05).clamp(0.0, 1.0)
            }
            Shape::Feature { tier } => {
                let base = [40.0, 9.0][tier];
                (base * (1.0 + 0.5 * phase) + noise * 4.0).max(0.0).round()
            }
        }
    }
}

/// A value in [0, 1) from two integers (splitmix64): deterministic noise.
fn unit_noise(a: u64, b: u64) -> f64 {
    let mut z = a
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(b)
        .wrapping_add(0x632B_E59B_D9B4_E019);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}
