//! Where alerts go: a callback, a JSONL file, the store itself.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Weak;

use parking_lot::Mutex;

use super::{Alert, AlertState};
use crate::error::CollectorError;
use crate::event::RESERVED_DIMENSIONS;
use crate::event::{MetricEvent, Source};
use crate::pipeline::Shared;

/// Receives alert notifications (firing and resolved), once per transition.
pub trait AlertSink: Send + Sync {
    /// One notification.
    fn notify(&self, alert: &Alert);
}

/// Calls a function for each notification.
pub struct CallbackSink<F: Fn(&Alert) + Send + Sync>(pub F);

impl std::fmt::Debug for dyn AlertSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AlertSink")
    }
}

impl<F: Fn(&Alert) + Send + Sync> AlertSink for CallbackSink<F> {
    fn notify(&self, alert: &Alert) {
        (self.0)(alert)
    }
}

/// Appends each notification as one JSON line to a file.
pub struct JsonlSink {
    path: PathBuf,
    file: Mutex<File>,
}

impl JsonlSink {
    /// Opens (creating) the file for appending.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CollectorError> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| CollectorError::io("open alert log", &path, e))?;
        Ok(JsonlSink {
            path,
            file: Mutex::new(file),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl AlertSink for JsonlSink {
    fn notify(&self, alert: &Alert) {
        if let Ok(line) = serde_json::to_string(alert) {
            // An alert that cannot be logged must not stop the others.
            let _ = writeln!(self.file.lock(), "{line}");
        }
    }
}

/// Records each notification in the store as metric `alert_state` (1 firing, 0
/// resolved; source `system`, category `alerting`), with dimensions `rule`,
/// `severity` and the alert's group labels.
pub(crate) struct StoreSink(pub Weak<Shared>);

impl AlertSink for StoreSink {
    fn notify(&self, alert: &Alert) {
        let Some(shared) = self.0.upgrade() else {
            return;
        };
        let value = if alert.state == AlertState::Firing {
            1.0
        } else {
            0.0
        };
        let mut e = MetricEvent::new(Source::System, "alerting", "alert_state", value, "")
            .at(alert.at)
            .with_dimension("rule", alert.rule.clone())
            .with_dimension("severity", format!("{:?}", alert.severity).to_lowercase());
        for (k, v) in &alert.labels {
            if !RESERVED_DIMENSIONS.contains(&k.as_str()) && k != "rule" && k != "severity" {
                e.dimensions.insert(k.clone(), v.clone());
            }
        }
        let _ = shared.ingest(vec![e]);
    }
}
