//! The engine's `tracing` events, seen through a real subscriber: open with what
//! recovery replayed and cut, flush, compaction, retention and deletion, each with the
//! figures of its report.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use sedimentdb::{Db, Durability, Options, Selector, SeriesKey, TimeRange, WriteBatch};
use tracing::field::{Field, Visit};
use tracing::{Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

#[derive(Debug, Clone)]
struct Seen {
    level: Level,
    target: String,
    fields: BTreeMap<String, String>,
}

impl Seen {
    fn message(&self) -> &str {
        self.fields.get("message").map(String::as_str).unwrap_or("")
    }
    fn field(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("{self:?} has no {name}"))
    }
}

struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<Seen>>>);

impl<S: Subscriber> Layer<S> for Collect {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields(BTreeMap::new());
        event.record(&mut fields);
        self.0.lock().unwrap().push(Seen {
            level: *event.metadata().level(),
            target: event.metadata().target().to_string(),
            fields: fields.0,
        });
    }
}

/// Runs `f` with a subscriber on this thread and returns the engine's events.
fn events(f: impl FnOnce()) -> Vec<Seen> {
    let collect = Collect::default();
    let subscriber = tracing_subscriber::registry().with(collect.clone());
    tracing::subscriber::with_default(subscriber, f);
    let seen = collect.0.lock().unwrap().clone();
    seen.into_iter()
        .filter(|e| e.target == "sedimentdb")
        .collect()
}

fn find<'a>(seen: &'a [Seen], message: &str) -> &'a Seen {
    seen.iter()
        .find(|e| e.message() == message)
        .unwrap_or_else(|| panic!("no {message:?} event in {seen:#?}"))
}

fn write(db: &Db, from: i64, n: i64) {
    let mut batch = WriteBatch::new();
    let key = SeriesKey::new("cpu").with("host", "a");
    for i in from..from + n {
        batch.push_key(&key, i * 1_000_000_000, i as f64);
    }
    db.write(&batch).unwrap();
}

fn no_maintenance() -> Options {
    Options::default()
        .durability(Durability::Sync)
        .maintenance(sedimentdb::Maintenance::new())
}

#[test]
fn recovery_is_reported_at_open_with_the_torn_tail_it_cut() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), no_maintenance()).unwrap();
        write(&db, 0, 100);
        // Dropped without close or flush: the points live in the WAL only.
    }
    // A torn append at the end of the newest WAL file.
    let wal = std::fs::read_dir(dir.path().join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    let mut bytes = std::fs::read(&wal).unwrap();
    bytes.extend_from_slice(&[0x5a; 7]);
    std::fs::write(&wal, bytes).unwrap();

    let seen = events(|| {
        Db::open(dir.path(), no_maintenance())
            .unwrap()
            .close()
            .unwrap();
    });
    let opened = find(&seen, "opened");
    assert_eq!(opened.level, Level::INFO);
    assert_eq!(opened.field("replayed_points"), "100");
    assert_eq!(opened.field("read_only"), "false");
    let cut = find(&seen, "recovery cut a torn WAL tail");
    assert_eq!(cut.level, Level::WARN);
    assert!(cut
        .field("file")
        .ends_with(wal.file_name().unwrap().to_str().unwrap()));
}

#[test]
fn flush_compaction_retention_and_deletion_report_their_figures() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), no_maintenance()).unwrap();
    let seen = events(|| {
        write(&db, 0, 100);
        db.flush().unwrap();
        write(&db, 100, 50);
        db.flush().unwrap();
        db.compact().unwrap();
        db.delete_series(&Selector::metric("cpu"), TimeRange::new(0, 10_000_000_000))
            .unwrap();
        db.apply_retention().unwrap();
    });
    let flushes: Vec<&Seen> = seen.iter().filter(|e| e.message() == "flushed").collect();
    assert_eq!(flushes.len(), 2, "{seen:#?}");
    assert_eq!(flushes[0].field("points"), "100");
    assert_eq!(flushes[1].field("points"), "50");
    let compacted = find(&seen, "compacted");
    assert_eq!(
        (
            compacted.field("partitions"),
            compacted.field("input_segments")
        ),
        ("1", "2")
    );
    assert_eq!(compacted.field("points"), "150");
    assert_eq!(find(&seen, "deleted").field("series"), "1");
    // No retention is set: the pass has nothing to drop and says so at debug level.
    assert!(seen
        .iter()
        .any(|e| e.level == Level::DEBUG && e.message() == "retention: nothing to drop"));
    db.close().unwrap();
}
