//! A snapshot of everything a reader may look at.

use std::sync::Arc;

use crate::head::Head;
use crate::segment::Segment;

/// An immutable view: the live head (which keeps taking writes), heads frozen for a
/// flush in progress, and the live segments. Readers clone the `Arc<Version>` and so
/// never see a half-finished flush: a frozen head leaves the view in the same step as its
/// segments enter it.
pub(crate) struct Version {
    pub live: Arc<Head>,
    /// Oldest first.
    pub frozen: Vec<Arc<Head>>,
    /// Ascending segment id: on equal timestamps a later segment wins.
    pub segments: Vec<Arc<LiveSegment>>,
}

/// A segment with its manifest entry.
pub(crate) struct LiveSegment {
    pub entry: crate::partition::manifest::SegmentEntry,
    pub segment: Segment,
}
