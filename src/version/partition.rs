//! Partition arithmetic: which time partition a timestamp falls in, and the levels a
//! partition's segments are written at (flush, warm, cold).

use crate::types::Timestamp;

/// Level of segments written by a flush (recorded in the manifest's segment entries).
pub(crate) const LEVEL_FLUSH: u8 = 0;
/// Level of a warm partition's merged segment.
pub(crate) const LEVEL_WARM: u8 = 1;
/// Level of a cold partition's dense segment.
pub(crate) const LEVEL_COLD: u8 = 2;

/// The partition a timestamp belongs to: `floor(ts / duration)`.
pub(crate) fn partition_of(ts: Timestamp, duration: i64) -> i64 {
    ts.div_euclid(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_floor_negative_times() {
        assert_eq!(partition_of(0, 10), 0);
        assert_eq!(partition_of(9, 10), 0);
        assert_eq!(partition_of(10, 10), 1);
        assert_eq!(partition_of(-1, 10), -1);
        assert_eq!(partition_of(i64::MIN, 10), i64::MIN / 10 - 1);
    }
}
