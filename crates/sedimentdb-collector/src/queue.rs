//! Asynchronous mode: `collect_metric` validates on the caller's thread and enqueues into
//! a bounded queue; one background writer drains it in batches through the same
//! pipeline. A circuit breaker sheds load instead of blocking the caller.
//!
//! ```text
//!  caller ─▶ validate ─▶ breaker open? ─shed─▶ dropped += 1
//!                            │ closed
//!                            ▼
//!                  try_send (bounded) ─full─▶ dropped += 1
//!                            │
//!                            ▼
//!  writer: recv ≤ batch_size or max_delay ─▶ prepare ─▶ commit (retries) ─fail─▶ failed += n, breaker
//! ```
//!
//! Guarantees: an accepted event (`Ok` from `collect_metric`) is written unless the store
//! keeps failing through every retry, and it is then counted in
//! [`CollectorStats::failed`](super::CollectorStats::failed); `flush` returns after every
//! event accepted before it was committed; shutdown (explicit or on drop) drains the
//! queue first, so nothing accepted is lost to a clean stop.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use super::error::CollectorError;
use super::event::{MetricEvent, Source};
use super::pipeline::Shared;
use super::validate::duration_ns;

/// Settings of the asynchronous mode. Every field documents its default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AsyncConfig {
    /// Events the queue holds; past it events are shed. Default: 65 536.
    pub queue_capacity: usize,
    /// Most events the writer commits at once. Default: 10 000.
    pub batch_size: usize,
    /// Longest an event waits for its batch to fill. Default: 50 ms.
    pub max_batch_delay: Duration,
    /// Attempts to commit one batch before its events are counted as failed. Default: 3.
    pub commit_attempts: u32,
    /// Pause before the second attempt, doubled for each later one. Default: 20 ms.
    pub retry_backoff: Duration,
    /// Consecutive failed commit attempts that open the breaker (a batch failing
    /// through all its attempts opens it too). Default: 3.
    pub breaker_threshold: u32,
    /// How long an open breaker sheds before letting traffic probe the store again.
    /// Default: 1 s.
    pub breaker_cooldown: Duration,
    /// Interval at which the collector records its own health as metrics (`None`: never).
    /// Default: 10 s.
    pub health_interval: Option<Duration>,
}

impl Default for AsyncConfig {
    fn default() -> Self {
        AsyncConfig {
            queue_capacity: 65_536,
            batch_size: 10_000,
            max_batch_delay: Duration::from_millis(50),
            commit_attempts: 3,
            retry_backoff: Duration::from_millis(20),
            breaker_threshold: 3,
            breaker_cooldown: Duration::from_secs(1),
            health_interval: Some(Duration::from_secs(10)),
        }
    }
}

/// State of the circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Traffic flows.
    Closed,
    /// The store is failing: events are shed until the cooldown ends.
    Open,
    /// The cooldown ended: traffic flows, and the next commit decides.
    HalfOpen,
}

/// A lock-free circuit breaker: the enqueue path reads one atomic while it is closed.
#[derive(Debug)]
pub(crate) struct Breaker {
    state: AtomicU8,
    open_until: AtomicI64,
    failures: AtomicU64,
    threshold: u32,
    cooldown: i64,
}

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

impl Breaker {
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Self {
        Breaker {
            state: AtomicU8::new(CLOSED),
            open_until: AtomicI64::new(0),
            failures: AtomicU64::new(0),
            threshold: threshold.max(1),
            cooldown: duration_ns(cooldown),
        }
    }

    /// True when an event may be enqueued at `now` (moves Open to HalfOpen after the
    /// cooldown).
    #[inline]
    pub(crate) fn allows(&self, now: impl FnOnce() -> i64) -> bool {
        match self.state.load(Ordering::Acquire) {
            CLOSED | HALF_OPEN => true,
            _ => {
                if now() >= self.open_until.load(Ordering::Acquire) {
                    let _ = self.state.compare_exchange(
                        OPEN,
                        HALF_OPEN,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    );
                    true
                } else {
                    false
                }
            }
        }
    }

    pub(crate) fn success(&self) {
        self.failures.store(0, Ordering::Release);
        self.state.store(CLOSED, Ordering::Release);
    }

    pub(crate) fn failure(&self, now: i64) {
        let n = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
        let half_open = self.state.load(Ordering::Acquire) == HALF_OPEN;
        if half_open || n >= u64::from(self.threshold) {
            self.open_until
                .store(now.saturating_add(self.cooldown), Ordering::Release);
            self.state.store(OPEN, Ordering::Release);
        }
    }

    /// Opens at once (a batch failed through every retry).
    pub(crate) fn trip(&self, now: i64) {
        self.open_until
            .store(now.saturating_add(self.cooldown), Ordering::Release);
        self.state.store(OPEN, Ordering::Release);
    }

    pub(crate) fn state(&self) -> BreakerState {
        match self.state.load(Ordering::Acquire) {
            CLOSED => BreakerState::Closed,
            OPEN => BreakerState::Open,
            _ => BreakerState::HalfOpen,
        }
    }
}

enum Msg {
    /// An event, and the number of the id to assign it (the caller returned that id).
    Event(MetricEvent, Option<u64>),
    Flush(SyncSender<()>),
    Shutdown(SyncSender<()>),
}

/// Health figures of the asynchronous mode (also recorded as metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueueHealth {
    /// Events waiting in the queue.
    pub depth: u64,
    /// Events committed by the writer.
    pub delivered: u64,
    /// Events shed (queue full or breaker open).
    pub dropped: u64,
    /// Accepted events whose commit failed through every retry.
    pub failed: u64,
    /// Mean time from enqueue to commit over the last health interval, in milliseconds.
    pub mean_latency_ms: f64,
    /// Longest time from enqueue to commit over the last health interval, in milliseconds.
    pub max_latency_ms: f64,
}

#[derive(Debug, Default)]
struct LatencyWindow {
    sum_ns: u128,
    count: u64,
    max_ns: u64,
}

/// The queue, its writer thread and its breaker.
pub(crate) struct AsyncWriter {
    tx: RwLock<Option<SyncSender<Msg>>>,
    depth: Arc<AtomicI64>,
    delivered: Arc<AtomicU64>,
    pub(crate) breaker: Arc<Breaker>,
    thread: Mutex<Option<JoinHandle<()>>>,
    latency: Arc<Mutex<LatencyWindow>>,
}

impl AsyncWriter {
    pub(crate) fn start(shared: Arc<Shared>, config: AsyncConfig) -> Result<Self, CollectorError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(config.queue_capacity.max(1));
        let depth = Arc::new(AtomicI64::new(0));
        let delivered = Arc::new(AtomicU64::new(0));
        let breaker = Arc::new(Breaker::new(
            config.breaker_threshold,
            config.breaker_cooldown,
        ));
        let latency = Arc::new(Mutex::new(LatencyWindow::default()));
        let worker = Worker {
            shared,
            config,
            rx,
            depth: depth.clone(),
            delivered: delivered.clone(),
            breaker: breaker.clone(),
            latency: latency.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("sedimentdb-collector".into())
            .spawn(move || worker.run())
            .map_err(|e| CollectorError::io("spawn writer thread", "", e))?;
        Ok(AsyncWriter {
            tx: RwLock::new(Some(tx)),
            depth,
            delivered,
            breaker,
            thread: Mutex::new(Some(thread)),
            latency,
        })
    }

    /// Enqueues without blocking: `Err(Shed)` when full or the breaker is open.
    #[inline]
    pub(crate) fn enqueue(
        &self,
        shared: &Shared,
        event: MetricEvent,
        reserved_id: Option<u64>,
    ) -> Result<(), CollectorError> {
        if !self.breaker.allows(|| shared.clock.now()) {
            shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return Err(CollectorError::Shed("the store is failing (circuit open)"));
        }
        let guard = self.tx.read();
        let Some(tx) = guard.as_ref() else {
            return Err(CollectorError::Closed);
        };
        self.depth.fetch_add(1, Ordering::Relaxed);
        match tx.try_send(Msg::Event(event, reserved_id)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.depth.fetch_sub(1, Ordering::Relaxed);
                shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
                Err(CollectorError::Shed("the queue is full"))
            }
            Err(TrySendError::Disconnected(_)) => {
                self.depth.fetch_sub(1, Ordering::Relaxed);
                Err(CollectorError::Closed)
            }
        }
    }

    /// Waits until everything enqueued before the call is committed (or failed).
    pub(crate) fn flush(&self) -> Result<(), CollectorError> {
        let (ack_tx, ack_rx) = std::sync::mpsc::sync_channel(1);
        {
            let guard = self.tx.read();
            let tx = guard.as_ref().ok_or(CollectorError::Closed)?;
            tx.send(Msg::Flush(ack_tx))
                .map_err(|_| CollectorError::Closed)?;
        }
        ack_rx.recv().map_err(|_| CollectorError::Closed)
    }

    /// Stops accepting, drains the queue, commits, and joins the writer.
    pub(crate) fn shutdown(&self) -> Result<(), CollectorError> {
        let Some(tx) = self.tx.write().take() else {
            return Ok(());
        };
        let (ack_tx, ack_rx) = std::sync::mpsc::sync_channel(1);
        let sent = tx.send(Msg::Shutdown(ack_tx)).is_ok();
        drop(tx);
        if sent {
            let _ = ack_rx.recv();
        }
        if let Some(handle) = self.thread.lock().take() {
            handle.join().map_err(|_| {
                CollectorError::Config("the collector writer thread panicked".into())
            })?;
        }
        Ok(())
    }

    pub(crate) fn health(&self, shared: &Shared) -> QueueHealth {
        let lat = self.latency.lock();
        QueueHealth {
            depth: self.depth.load(Ordering::Relaxed).max(0) as u64,
            delivered: self.delivered.load(Ordering::Relaxed),
            dropped: shared.counters.dropped.load(Ordering::Relaxed),
            failed: shared.counters.failed.load(Ordering::Relaxed),
            mean_latency_ms: if lat.count == 0 {
                0.0
            } else {
                lat.sum_ns as f64 / lat.count as f64 / 1e6
            },
            max_latency_ms: lat.max_ns as f64 / 1e6,
        }
    }
}

struct Worker {
    shared: Arc<Shared>,
    config: AsyncConfig,
    rx: Receiver<Msg>,
    depth: Arc<AtomicI64>,
    delivered: Arc<AtomicU64>,
    breaker: Arc<Breaker>,
    latency: Arc<Mutex<LatencyWindow>>,
}

impl Worker {
    fn run(self) {
        let mut events: Vec<MetricEvent> = Vec::with_capacity(self.config.batch_size);
        let mut enqueued_at: Option<Instant> = None;
        let mut last_health = Instant::now();
        loop {
            let mut acks: Vec<SyncSender<()>> = Vec::new();
            let mut stop = false;
            match enqueued_at {
                // Idle: block until the first event (its sender pays one wake-up).
                None => {
                    let idle = self
                        .config
                        .health_interval
                        .unwrap_or(Duration::from_secs(1))
                        .min(Duration::from_secs(1));
                    match self.rx.recv_timeout(idle) {
                        Ok(msg) => {
                            self.take(msg, &mut events, &mut acks, &mut stop, &mut enqueued_at)
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => stop = true,
                    }
                }
                // Filling a batch: nap instead of parking on the channel, so that
                // senders never pay a futex wake-up (the p99 of the enqueue).
                Some(t) => {
                    let remaining = self.config.max_batch_delay.saturating_sub(t.elapsed());
                    if !remaining.is_zero() {
                        std::thread::sleep(remaining.min(Duration::from_millis(1)));
                    }
                }
            }
            // Drain what is already there, up to a batch.
            while events.len() < self.config.batch_size && acks.is_empty() && !stop {
                match self.rx.try_recv() {
                    Ok(msg) => self.take(msg, &mut events, &mut acks, &mut stop, &mut enqueued_at),
                    Err(_) => break,
                }
            }
            if stop {
                // Nothing can be enqueued any more (the sender is gone): take the rest.
                while let Ok(msg) = self.rx.try_recv() {
                    self.take(msg, &mut events, &mut acks, &mut stop, &mut enqueued_at);
                }
            }
            let due = enqueued_at.is_some_and(|t| t.elapsed() >= self.config.max_batch_delay);
            if !events.is_empty()
                && (events.len() >= self.config.batch_size || due || !acks.is_empty() || stop)
            {
                self.commit(std::mem::take(&mut events), enqueued_at.take());
                events.reserve(self.config.batch_size);
            }
            if let Some(every) = self.config.health_interval {
                if last_health.elapsed() >= every || stop {
                    self.record_health();
                    last_health = Instant::now();
                }
            }
            for ack in acks {
                let _ = ack.send(());
            }
            if stop {
                return;
            }
        }
    }

    fn take(
        &self,
        msg: Msg,
        events: &mut Vec<MetricEvent>,
        acks: &mut Vec<SyncSender<()>>,
        stop: &mut bool,
        enqueued_at: &mut Option<Instant>,
    ) {
        match msg {
            Msg::Event(mut e, reserved) => {
                self.depth.fetch_sub(1, Ordering::Relaxed);
                if let Some(n) = reserved {
                    e.id = self.shared.assigned_id(n).into();
                }
                if enqueued_at.is_none() {
                    *enqueued_at = Some(Instant::now());
                }
                events.push(e);
            }
            Msg::Flush(ack) => acks.push(ack),
            Msg::Shutdown(ack) => {
                acks.push(ack);
                *stop = true;
            }
        }
    }

    fn commit(&self, events: Vec<MetricEvent>, since: Option<Instant>) {
        let n = events.len() as u64;
        let mut prepared = match self.shared.prepare(events) {
            Ok(p) => p,
            Err(_) => {
                self.fail(n);
                return;
            }
        };
        let mut backoff = self.config.retry_backoff;
        for attempt in 0..self.config.commit_attempts.max(1) {
            if attempt > 0 {
                std::thread::sleep(backoff);
                backoff = backoff.saturating_mul(2);
            }
            match self.shared.commit(&mut prepared) {
                Ok(stored) => {
                    self.breaker.success();
                    self.delivered.fetch_add(stored as u64, Ordering::Relaxed);
                    if let Some(t) = since {
                        let ns = t.elapsed().as_nanos() as u64;
                        let mut lat = self.latency.lock();
                        lat.sum_ns += u128::from(ns);
                        lat.count += 1;
                        lat.max_ns = lat.max_ns.max(ns);
                    }
                    return;
                }
                Err(_) => self.breaker.failure(self.shared.clock.now()),
            }
        }
        self.breaker.trip(self.shared.clock.now());
        self.shared.forget_prepared(&prepared);
        self.shared
            .counters
            .failed
            .fetch_add(prepared.points() as u64, Ordering::Relaxed);
    }

    fn fail(&self, n: u64) {
        self.breaker.trip(self.shared.clock.now());
        self.shared.counters.failed.fetch_add(n, Ordering::Relaxed);
    }

    /// Records queue depth, dropped, delivered, failed and latency as `system` metrics
    /// of category `collector`, written directly (not through the queue).
    fn record_health(&self) {
        let h = {
            let lat = std::mem::take(&mut *self.latency.lock());
            QueueHealth {
                depth: self.depth.load(Ordering::Relaxed).max(0) as u64,
                delivered: self.delivered.load(Ordering::Relaxed),
                dropped: self.shared.counters.dropped.load(Ordering::Relaxed),
                failed: self.shared.counters.failed.load(Ordering::Relaxed),
                mean_latency_ms: if lat.count == 0 {
                    0.0
                } else {
                    lat.sum_ns as f64 / lat.count as f64 / 1e6
                },
                max_latency_ms: lat.max_ns as f64 / 1e6,
            }
        };
        let now = self.shared.clock.now();
        let metric = |name: &str, value: f64, unit: &str| {
            MetricEvent::new(Source::System, "collector", name, value, unit).at(now)
        };
        let events = vec![
            metric("collector_queue_depth", h.depth as f64, "count"),
            metric("collector_delivered_total", h.delivered as f64, "count"),
            metric("collector_dropped_total", h.dropped as f64, "count"),
            metric("collector_failed_total", h.failed as f64, "count"),
            metric("collector_latency_mean", h.mean_latency_ms, "ms"),
            metric("collector_latency_max", h.max_latency_ms, "ms"),
        ];
        if let Ok(mut p) = self.shared.prepare(events) {
            let _ = self.shared.commit(&mut p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_opens_after_threshold_and_probes_after_cooldown() {
        let b = Breaker::new(2, Duration::from_nanos(100));
        assert!(b.allows(|| 0));
        b.failure(0);
        assert_eq!(b.state(), BreakerState::Closed);
        b.failure(0);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.allows(|| 50));
        assert!(b.allows(|| 100));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        b.failure(100);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.allows(|| 200));
        b.success();
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
