//! Where the harness's points come from: the in-process generator (quick runs, no file)
//! or gen.py's own line-protocol file, read with the same reader as `sediment import`,
//! so that sedimentdb, SQLite and the peers measured elsewhere load the same bytes and
//! answer the same questions about the same values.
//!
//! Both sources hand out the same shape: `hosts x FIELDS` series numbered
//! `host * FIELDS.len() + field` (see [`Shape::series_index`]), streamed time-major.

use std::error::Error;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use sedimentdb_formats::{Format, PointBatch, Precision, ReadOptions};

use crate::tsbs_data::{Checksum, GenPoint, Host, PointStream, Shape, FIELDS, TAG_KEYS};

type BoxResult<T> = Result<T, Box<dyn Error>>;

/// The points of a gen.py line-protocol file, kept per series (a series' timestamps
/// and values in time order). 8.64 M points take about 140 MB.
#[derive(Debug, Clone)]
pub struct FileData {
    hosts: Vec<Host>,
    ts: Vec<Vec<i64>>,
    values: Vec<Vec<f64>>,
    /// Points of the longest series: the number of time steps the stream walks.
    steps: usize,
}

impl FileData {
    /// Reads `path` (InfluxDB line protocol, measurement `cpu`, timestamps in
    /// `precision`, as gen.py writes with `--format influx`: seconds). Every line must
    /// parse and every series must be `cpu_<field>` of a host `host_<i>` with the ten
    /// TSBS tags; hosts must be numbered 0..n without gaps.
    pub fn read(path: &Path, precision: Precision) -> BoxResult<FileData> {
        let file = File::open(path).map_err(|e| format!("opening {}: {e}", path.display()))?;
        let options = ReadOptions::default().precision(precision);
        let mut reader = Format::Influx.reader(BufReader::with_capacity(1 << 20, file), &options);
        let mut batch = PointBatch::new();
        // Reader series id -> harness series index, resolved once per series.
        let mut index_of: Vec<usize> = Vec::new();
        let mut hosts: Vec<Option<Host>> = Vec::new();
        let mut ts: Vec<Vec<i64>> = Vec::new();
        let mut values: Vec<Vec<f64>> = Vec::new();
        while reader
            .read_batch(&mut batch)
            .map_err(|e| format!("{}: {e}", path.display()))?
        {
            if let Some(skipped) = batch.skipped.first() {
                return Err(format!(
                    "{} line {}: {} (the harness needs every line)",
                    path.display(),
                    skipped.line,
                    skipped.reason
                )
                .into());
            }
            for p in &batch.points {
                let id = p.series as usize;
                while index_of.len() <= id {
                    let key = reader.series().key(index_of.len() as u32);
                    let (host_index, field, host) = classify(key)?;
                    if hosts.len() <= host_index {
                        hosts.resize(host_index + 1, None);
                    }
                    match &hosts[host_index] {
                        Some(known) if *known != host => {
                            return Err(format!("host_{host_index} has two tag sets").into())
                        }
                        _ => hosts[host_index] = Some(host),
                    }
                    let index = host_index * FIELDS.len() + field;
                    if ts.len() <= index {
                        ts.resize(index + 1, Vec::new());
                        values.resize(index + 1, Vec::new());
                    }
                    index_of.push(index);
                }
                let index = index_of[id];
                if ts[index].last().is_some_and(|&last| last >= p.ts) {
                    return Err(format!(
                        "{}: series {index} goes back in time at {} (the harness needs each series in time order)",
                        path.display(),
                        p.ts
                    )
                    .into());
                }
                ts[index].push(p.ts);
                values[index].push(p.value);
            }
        }
        let hosts: Vec<Host> = hosts
            .into_iter()
            .enumerate()
            .map(|(i, h)| h.ok_or_else(|| format!("host_{i} is missing from the file")))
            .collect::<Result<_, _>>()?;
        if hosts.is_empty() {
            return Err(format!("{} holds no cpu points", path.display()).into());
        }
        ts.resize(hosts.len() * FIELDS.len(), Vec::new());
        values.resize(hosts.len() * FIELDS.len(), Vec::new());
        if let Some(empty) = ts.iter().position(Vec::is_empty) {
            return Err(format!(
                "host_{} has no {} points",
                empty / FIELDS.len(),
                FIELDS[empty % FIELDS.len()]
            )
            .into());
        }
        let steps = ts.iter().map(Vec::len).max().unwrap_or(0);
        Ok(FileData {
            hosts,
            ts,
            values,
            steps,
        })
    }
}

/// The host index, field index and host tags of a gen.py series key.
fn classify(key: &sedimentdb::SeriesKey) -> BoxResult<(usize, usize, Host)> {
    let field = key
        .name()
        .strip_prefix("cpu_")
        .and_then(|f| FIELDS.iter().position(|known| *known == f))
        .ok_or_else(|| format!("series {key} is not one of the cpu fields"))?;
    let mut tags: [String; 10] = Default::default();
    for (slot, name) in tags.iter_mut().zip(TAG_KEYS) {
        *slot = key
            .dimension(name)
            .ok_or_else(|| format!("series {key} has no {name} tag"))?
            .to_string();
    }
    let host = tags[0]
        .strip_prefix("host_")
        .and_then(|i| i.parse::<usize>().ok())
        .ok_or_else(|| format!("series {key}: hostname is not host_<number>"))?;
    Ok((host, field, Host { tags }))
}

/// The dataset of one harness run.
#[derive(Debug, Clone)]
pub enum Dataset {
    /// The in-process generator (gen.py's model, other random numbers).
    Generated {
        /// Hosts, hours and seed.
        shape: Shape,
        /// The hosts' tags.
        hosts: Vec<Host>,
    },
    /// gen.py's own file.
    File(FileData),
}

impl Dataset {
    /// The generator's dataset of `shape`.
    pub fn generated(shape: Shape) -> Dataset {
        let hosts = crate::tsbs_data::make_hosts(shape.hosts, shape.seed);
        Dataset::Generated { shape, hosts }
    }

    /// The hosts, `host_0` first.
    pub fn hosts(&self) -> &[Host] {
        match self {
            Dataset::Generated { hosts, .. } => hosts,
            Dataset::File(f) => &f.hosts,
        }
    }

    /// Number of series (hosts x fields).
    pub fn series(&self) -> usize {
        self.hosts().len() * FIELDS.len()
    }

    /// Number of points.
    pub fn points(&self) -> u64 {
        match self {
            Dataset::Generated { shape, .. } => shape.points(),
            Dataset::File(f) => f.ts.iter().map(|t| t.len() as u64).sum(),
        }
    }

    /// The first timestamp of the data (the TSBS queries count hours from it).
    pub fn start(&self) -> i64 {
        match self {
            Dataset::Generated { shape, .. } => shape.timestamp(0),
            Dataset::File(f) => {
                f.ts.iter()
                    .filter_map(|t| t.first())
                    .copied()
                    .min()
                    .unwrap_or(0)
            }
        }
    }

    /// Just past the last timestamp of the data.
    pub fn end(&self) -> i64 {
        match self {
            Dataset::Generated { shape, .. } => {
                shape.timestamp(0) + shape.timestamps as i64 * crate::tsbs_data::INTERVAL_NS
            }
            Dataset::File(f) => {
                f.ts.iter()
                    .filter_map(|t| t.last())
                    .copied()
                    .max()
                    .unwrap_or(0)
                    + 1
            }
        }
    }

    /// The points time-major (every series' first point, then every series' second...),
    /// in chunks.
    pub fn stream(&self) -> DatasetStream<'_> {
        match self {
            Dataset::Generated { shape, .. } => DatasetStream::Generated(shape.stream()),
            Dataset::File(f) => DatasetStream::File {
                data: f,
                step: 0,
                series: 0,
            },
        }
    }

    /// Timestamps and values of series `index`, as written.
    pub fn series_points(&self, index: usize) -> (Vec<i64>, Vec<f64>) {
        match self {
            Dataset::Generated { shape, .. } => (
                (0..shape.timestamps).map(|i| shape.timestamp(i)).collect(),
                shape.series_values(index),
            ),
            Dataset::File(f) => (f.ts[index].clone(), f.values[index].clone()),
        }
    }

    /// The exact checksum of every point.
    pub fn checksum(&self) -> Checksum {
        match self {
            Dataset::Generated { shape, .. } => Checksum::of_dataset(shape),
            Dataset::File(f) => {
                let mut sum = Checksum::default();
                f.values.iter().flatten().for_each(|&v| sum.add(v));
                sum
            }
        }
    }
}

/// A time-major walk over a [`Dataset`], handed out in caller-sized chunks.
#[derive(Debug)]
pub enum DatasetStream<'a> {
    /// Values drawn as they are handed out.
    Generated(PointStream),
    /// Read from memory.
    File {
        /// The data.
        data: &'a FileData,
        /// The next time step.
        step: usize,
        /// The next series within the step.
        series: usize,
    },
}

impl DatasetStream<'_> {
    /// Replaces the contents of `out` with the next (at most) `n` points. Returns false
    /// when the stream is exhausted and `out` is empty.
    pub fn fill(&mut self, out: &mut Vec<GenPoint>, n: usize) -> bool {
        match self {
            DatasetStream::Generated(stream) => stream.fill(out, n),
            DatasetStream::File { data, step, series } => {
                out.clear();
                while out.len() < n && *step < data.steps {
                    // A series shorter than the longest one (gen.py's are all equal)
                    // simply has no point at the later steps.
                    if let (Some(&ts), Some(&value)) =
                        (data.ts[*series].get(*step), data.values[*series].get(*step))
                    {
                        out.push(GenPoint {
                            series: *series as u32,
                            ts,
                            value,
                        });
                    }
                    *series += 1;
                    if *series == data.ts.len() {
                        *series = 0;
                        *step += 1;
                    }
                }
                !out.is_empty()
            }
        }
    }
}
