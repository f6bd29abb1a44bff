//! Series catalog and roaring postings.
