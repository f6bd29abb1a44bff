//! What a PromQL query returns, in the shapes of the Prometheus HTTP API.
//!
//! Timestamps are nanoseconds since the Unix epoch, like the engine's; the HTTP layer
//! prints them as seconds (Prometheus has millisecond resolution).

use crate::labels::Labels;

/// A sample of an instant vector: labels, the evaluation time, a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels.
    pub labels: Labels,
    /// The evaluation time (not the time of the raw sample the value came from).
    pub timestamp: i64,
    /// The value.
    pub value: f64,
}

/// A series of a range vector (matrix): labels and `(timestamp, value)` points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The series' labels.
    pub labels: Labels,
    /// Points in time order.
    pub points: Vec<(i64, f64)>,
}

/// A query's answer: Prometheus' `resultType` and `result`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum QueryValue {
    /// `"scalar"`: one number at the evaluation time.
    Scalar {
        /// Evaluation time.
        timestamp: i64,
        /// The number.
        value: f64,
    },
    /// `"string"`: a string literal at the evaluation time.
    String {
        /// Evaluation time.
        timestamp: i64,
        /// The string.
        value: String,
    },
    /// `"vector"`: an instant vector.
    Vector(Vec<Sample>),
    /// `"matrix"`: a range vector (an instant query of `x[5m]`, or any range query).
    Matrix(Vec<Series>),
}

impl QueryValue {
    /// Prometheus' `resultType` name.
    pub fn result_type(&self) -> &'static str {
        match self {
            QueryValue::Scalar { .. } => "scalar",
            QueryValue::String { .. } => "string",
            QueryValue::Vector(_) => "vector",
            QueryValue::Matrix(_) => "matrix",
        }
    }
}
