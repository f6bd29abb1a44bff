//! Renderers: each reads a [`Report`] and writes one document.
//!
//! - [`text`]: plain text for a terminal or an e-mail;
//! - [`markdown`]: GitHub-flavoured Markdown with tables;
//! - [`json`]: the `sedimentdb-report/1` schema (see the crate docs);
//! - [`html`]: one self-contained file, inline SVG charts drawn with plotters, no
//!   scripts, no external resources.

mod chart;
mod fmt;
mod html;
mod markdown;
mod text;

pub use chart::{breakdown_svg, timeline_svg};
pub use fmt::{number, percent, time, time_short};
pub use html::html;
pub use markdown::markdown;
pub use text::text;

use crate::error::{ReportError, Result};
use crate::model::Report;

/// The report as pretty-printed JSON (schema `sedimentdb-report/1`), ending in a newline.
pub fn json(report: &Report) -> Result<String> {
    let mut s = serde_json::to_string_pretty(report)
        .map_err(|e| ReportError::invalid(format!("cannot encode the report: {e}")))?;
    s.push('\n');
    Ok(s)
}
