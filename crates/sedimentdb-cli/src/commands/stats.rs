//! `sediment stats`: sizes per tier and per partition.

use clap::Args;
use sedimentdb::Stats;

use crate::exit::{CliError, CliResult, Status};
use crate::output::Global;

/// Arguments of `stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// `text` (default) or `json` (the engine's `Stats`, stable field names).
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

/// Prints the statistics.
pub fn run(global: &Global, args: StatsArgs) -> CliResult<Status> {
    let db = global.open_for_reading()?;
    let stats = db.stats();
    if args.format == "json" {
        let json = serde_json::to_string_pretty(&stats)
            .map_err(|e| CliError::new(format!("cannot encode the statistics: {e}")))?;
        crate::output::emit(&format!("{json}\n"))?;
    } else {
        crate::output::emit(&render_text(&stats))?;
    }
    Ok(Status::Ok)
}

fn render_text(stats: &Stats) -> String {
    let total_points = stats.head_points + stats.segment_points;
    let mut out = String::new();
    let rows = [
        ("series", stats.series.to_string()),
        ("points", total_points.to_string()),
        ("head points", stats.head_points.to_string()),
        ("segment points", stats.segment_points.to_string()),
        ("segments", stats.segments.to_string()),
        ("segment bytes", stats.segment_bytes.to_string()),
        ("WAL bytes", stats.wal_bytes.to_string()),
        ("catalog bytes", stats.catalog_bytes.to_string()),
        ("rollup files", stats.rollup_files.to_string()),
        ("rollup bytes", stats.rollup_bytes.to_string()),
        ("tombstones", stats.tombstones.to_string()),
    ];
    for (name, value) in rows {
        out.push_str(&format!("{name:<16}{value:>16}\n"));
    }
    if stats.segment_points > 0 {
        let bpp = stats.segment_bytes as f64 / stats.segment_points as f64;
        out.push_str(&format!("{:<16}{bpp:>16.2}\n", "bytes per point"));
    }
    if !stats.partitions.is_empty() {
        out.push_str(
            "\npartition start                  tier  segments        points         bytes\n",
        );
        for p in &stats.partitions {
            let start = humantime::format_rfc3339_seconds(timestamp_to_system_time(p.start));
            let tier = if p.cold { "cold" } else { "warm" };
            out.push_str(&format!(
                "{start:<32} {tier:<5} {:>8} {:>13} {:>13}\n",
                p.segments, p.points, p.bytes
            ));
        }
    }
    out
}

/// Nanoseconds since the Unix epoch as a `SystemTime` (before 1970 included).
pub fn timestamp_to_system_time(ts: i64) -> std::time::SystemTime {
    let epoch = std::time::UNIX_EPOCH;
    if ts >= 0 {
        epoch + std::time::Duration::from_nanos(ts as u64)
    } else {
        epoch - std::time::Duration::from_nanos(ts.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lists_partitions_and_bytes_per_point() {
        // The report types are #[non_exhaustive]: built from defaults, field by field.
        let mut partition = sedimentdb::PartitionStats::default();
        partition.start = 86_400_000_000_000;
        partition.cold = true;
        partition.segments = 1;
        partition.points = 100;
        partition.bytes = 150;
        let mut stats = Stats::default();
        stats.series = 2;
        stats.segment_points = 100;
        stats.segment_bytes = 150;
        stats.segments = 1;
        stats.partitions = vec![partition];
        let text = render_text(&stats);
        assert!(text.contains("bytes per point             1.50"), "{text}");
        assert!(text.contains("1970-01-02T00:00:00Z"), "{text}");
        assert!(text.contains("cold"), "{text}");
    }
}
