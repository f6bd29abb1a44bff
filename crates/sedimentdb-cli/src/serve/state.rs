//! The database the server answers from: a snapshot swapped in on a timer, so that a
//! read-only server sees what a writer flushed since it started.

use std::sync::Arc;

use parking_lot::RwLock;
use sedimentdb::Db;

/// The current snapshot, shared by the handlers.
pub struct Snapshot {
    db: RwLock<Arc<Db>>,
}

impl Snapshot {
    /// Starts with `db`.
    pub fn new(db: Db) -> Self {
        Snapshot {
            db: RwLock::new(Arc::new(db)),
        }
    }

    /// The database to answer the next request from.
    pub fn current(&self) -> Arc<Db> {
        self.db.read().clone()
    }

    /// Swaps in a newer snapshot; requests in flight finish on the old one.
    pub fn replace(&self, db: Db) {
        *self.db.write() = Arc::new(db);
    }
}
