//! Column codecs.
