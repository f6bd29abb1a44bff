//! Analytics over already-fetched series: pure functions on plain slices.
//!
//! The query engine selects, downsamples and aligns the data; the functions here only do
//! the arithmetic, so each can be tested against a naive reference without a database.
//!
//! | module | answers |
//! |---|---|
//! | [`stats`] | mean, variance (Welford), quantiles (type 7, exact), median, MAD, Student t quantile |
//! | [`trend`] | least-squares slope per second, R², forecast with a prediction interval, a degrading verdict |
//! | [`anomaly`] | rolling robust z-score, seasonal baseline, period detection, CUSUM change points |
//! | [`detector`] | a streaming, calibrated anomaly detector: per-series state, a score in `[0, 1]` per point |
//! | [`correlation`] | Pearson, Spearman, alignment on timestamps, lag search, top-N discovery |
//! | [`dimensional`] | which dimension values differ from the whole, and which moved with a spike |
//!
//! # Conventions shared by every function
//!
//! - **Missing values.** A value that is not finite — NaN, `+inf` or `-inf` — is treated
//!   as missing and skipped, together with its timestamp (in paired inputs, the whole pair
//!   is skipped). Infinities are skipped rather than propagated because a single one would
//!   turn every mean, variance, slope and correlation into NaN or infinity; in a metrics
//!   store they come from division by zero upstream, not from measurements.
//! - **Not enough data** is an ordinary outcome, reported as `None` or an empty `Vec`,
//!   never as an error: an empty input, a single point, or a series with zero variance
//!   where a statistic needs some.
//! - **Invalid parameters** (a window of zero, a confidence outside `(0, 1)`, timestamp
//!   and value slices of different lengths where the function returns a `Result`) are
//!   reported as [`crate::Error::InvalidArgument`].
//! - **Timestamps** are nanoseconds ([`crate::Timestamp`]). Time differences are taken in
//!   `i128` before conversion to `f64` seconds, so timestamps anywhere in the `i64` range
//!   neither overflow nor lose precision to a 1.6e18 offset.
//! - **No panics.** Every function accepts any input; nothing indexes out of bounds or
//!   unwraps a data-dependent value.
//! - Results derive `Debug`, `Clone`, `PartialEq` and serde's `Serialize`/`Deserialize`.
//!
//! ```
//! use sedimentdb::analytics::{correlation, trend::linear_trend};
//!
//! let ts: Vec<i64> = (0..10).map(|i| i * 1_000_000_000).collect(); // one point a second
//! let ys: Vec<f64> = (0..10).map(|i| 3.0 + 0.5 * i as f64).collect();
//! let fit = linear_trend(&ts, &ys).unwrap();
//! assert!((fit.slope_per_sec - 0.5).abs() < 1e-12);
//! assert!((correlation::pearson(&ys, &ys).unwrap() - 1.0).abs() < 1e-12);
//! ```

pub mod anomaly;
pub mod correlation;
pub mod detector;
pub mod dimensional;
pub mod stats;
pub mod trend;

pub use anomaly::{
    cusum_change_points, detect_period, rolling_robust_zscore, seasonal_baseline, Anomaly,
    ChangePoint,
};
pub use correlation::{
    align, best_lag, pearson, rank_correlated, spearman, CorrelationMethod, LagResult,
};
pub use dimensional::{attribution, breakdown, Attribution, Contribution, GroupAgg};
pub use stats::Summary;
pub use trend::{linear_trend, Direction, Forecast, Trend, Verdict};

#[cfg(test)]
pub(crate) mod testutil;
