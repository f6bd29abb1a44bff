//! The Prometheus HTTP API endpoints. Each handler reads its parameters, runs the
//! engine call on tokio's blocking pool (queries decode chunks and must not stall the
//! I/O threads) and answers in Prometheus' JSON shapes.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use sedimentdb_promql::{
    instant_query, range_query, Labels, PromError, SeriesSelector, SeriesSource,
};

use super::json;
use super::params::{now_ns, Params};
use super::ServerState;

/// A finished answer: a status code and a JSON body.
pub struct ApiResponse {
    status: StatusCode,
    body: String,
}

impl IntoResponse for ApiResponse {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body,
        )
            .into_response()
    }
}

fn ok(data: String) -> ApiResponse {
    ApiResponse {
        status: StatusCode::OK,
        body: json::success(&data),
    }
}

fn err(e: &PromError) -> ApiResponse {
    ApiResponse {
        status: StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body: json::error(e.error_type(), &e.to_string()),
    }
}

/// A request's parameters: the query string plus, for a POST with a form body, the
/// body's fields (Prometheus accepts both, and Grafana POSTs forms).
pub struct ApiParams(Params);

impl<S: Send + Sync> FromRequest<S> for ApiParams {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let query = req.uri().query().map(str::to_owned);
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if req.method() == Method::POST && is_form {
            let body = Bytes::from_request(req, state)
                .await
                .map_err(IntoResponse::into_response)?;
            Ok(ApiParams(Params::new(query.as_deref(), Some(&body))))
        } else {
            Ok(ApiParams(Params::new(query.as_deref(), None)))
        }
    }
}

/// Runs `f` on the blocking pool and turns its result into a response.
async fn blocking<F>(f: F) -> ApiResponse
where
    F: FnOnce() -> Result<String, PromError> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(data)) => ok(data),
        Ok(Err(e)) => err(&e),
        Err(join) => ApiResponse {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            body: json::error("internal", &format!("query task failed: {join}")),
        },
    }
}

fn required<'p>(p: &'p Params, name: &str) -> Result<&'p str, PromError> {
    p.get(name)
        .ok_or_else(|| PromError::BadData(format!("invalid parameter \"{name}\": missing")))
}

/// `/api/v1/query`: `query`, `time` (default now), `lookback_delta`.
pub async fn query(State(state): State<Arc<ServerState>>, ApiParams(p): ApiParams) -> ApiResponse {
    blocking(move || {
        let text = required(&p, "query")?.to_owned();
        let time = p.time("time", now_ns())?;
        let opts = state.options(&p)?;
        let db = state.snapshot.current();
        let v = instant_query(&*db, &text, time, &opts)?;
        let mut out = String::new();
        json::query_data(&mut out, &v);
        Ok(out)
    })
    .await
}

/// `/api/v1/query_range`: `query`, `start`, `end`, `step`, `lookback_delta`.
pub async fn query_range(
    State(state): State<Arc<ServerState>>,
    ApiParams(p): ApiParams,
) -> ApiResponse {
    blocking(move || {
        let text = required(&p, "query")?.to_owned();
        required(&p, "start")?;
        required(&p, "end")?;
        let start = p.time("start", 0)?;
        let end = p.time("end", 0)?;
        let step = p
            .duration("step")?
            .ok_or_else(|| PromError::BadData("invalid parameter \"step\": missing".into()))?;
        let opts = state.options(&p)?;
        let db = state.snapshot.current();
        let v = range_query(&*db, &text, start, end, step, &opts)?;
        let mut out = String::new();
        json::query_data(&mut out, &v);
        Ok(out)
    })
    .await
}

/// `(after, up_to]` in nanoseconds, when a request limits the time.
type Window = Option<(i64, i64)>;

/// The `match[]` selectors and the optional `(start, end]` window of the metadata
/// endpoints.
fn selectors_and_window(p: &Params) -> Result<(Vec<SeriesSelector>, Window), PromError> {
    let selectors = p
        .all("match[]")
        .into_iter()
        .map(SeriesSelector::parse)
        .collect::<Result<Vec<_>, _>>()?;
    let window = match (p.get("start"), p.get("end")) {
        (None, None) => None,
        _ => {
            let start = p.time("start", i64::MIN / 2)?;
            let end = p.time("end", i64::MAX / 2)?;
            // Prometheus' series window is closed at both ends.
            Some((start.saturating_sub(1), end))
        }
    };
    Ok((selectors, window))
}

/// Every series the selectors match (all series when there is none), sorted, deduplicated.
fn matching_series(
    db: &sedimentdb::Db,
    selectors: &[SeriesSelector],
    window: Option<(i64, i64)>,
) -> Result<Vec<Labels>, PromError> {
    let mut out: BTreeSet<Labels> = BTreeSet::new();
    if selectors.is_empty() {
        let all = SeriesSelector::parse(r#"{__name__=~".+"}"#)?;
        out.extend(SeriesSource::series(db, &all, window)?);
    }
    for s in selectors {
        out.extend(SeriesSource::series(db, s, window)?);
    }
    Ok(out.into_iter().collect())
}

/// `/api/v1/series`: `match[]` (required), `start`, `end`.
pub async fn series(State(state): State<Arc<ServerState>>, ApiParams(p): ApiParams) -> ApiResponse {
    blocking(move || {
        let (selectors, window) = selectors_and_window(&p)?;
        if selectors.is_empty() {
            return Err(PromError::BadData("no match[] parameter provided".into()));
        }
        let db = state.snapshot.current();
        let series = matching_series(&db, &selectors, window)?;
        let mut out = String::from("[");
        for (i, l) in series.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json::labels(&mut out, l);
        }
        out.push(']');
        Ok(out)
    })
    .await
}

/// `/api/v1/labels`: `match[]`, `start`, `end`.
pub async fn labels(State(state): State<Arc<ServerState>>, ApiParams(p): ApiParams) -> ApiResponse {
    blocking(move || {
        let (selectors, window) = selectors_and_window(&p)?;
        let db = state.snapshot.current();
        let series = matching_series(&db, &selectors, window)?;
        let names: BTreeSet<&str> = series
            .iter()
            .flat_map(|l| l.pairs().iter().map(|(k, _)| k.as_str()))
            .collect();
        Ok(json::strings(names))
    })
    .await
}

/// `/api/v1/label/<name>/values`: `match[]`, `start`, `end`.
pub async fn label_values(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
    ApiParams(p): ApiParams,
) -> ApiResponse {
    blocking(move || {
        let (selectors, window) = selectors_and_window(&p)?;
        let db = state.snapshot.current();
        let series = matching_series(&db, &selectors, window)?;
        let values: BTreeSet<&str> = series.iter().filter_map(|l| l.get(&name)).collect();
        Ok(json::strings(values))
    })
    .await
}

/// `/api/v1/status/buildinfo`. `version` is the Prometheus API level the answers
/// follow (Grafana reads it to pick features); the engine's own version is beside it.
pub async fn buildinfo() -> ApiResponse {
    let version = env!("CARGO_PKG_VERSION");
    ok(format!(
        "{{\"version\":\"3.0.0\",\"revision\":\"\",\"branch\":\"\",\"buildUser\":\"\",\"buildDate\":\"\",\"goVersion\":\"\",\"application\":\"sedimentdb\",\"sedimentdbVersion\":\"{version}\"}}"
    ))
}

/// `/api/v1/metadata`: no metric metadata is stored; an empty object, as Prometheus
/// answers for unknown metrics (Grafana's metric browser asks).
pub async fn metadata() -> ApiResponse {
    ok("{}".into())
}

/// `/api/v1/query_exemplars`: no exemplars are stored.
pub async fn exemplars() -> ApiResponse {
    ok("[]".into())
}

/// Any other path under `/api/v1`: Prometheus' 404 shape.
pub async fn not_found() -> ApiResponse {
    ApiResponse {
        status: StatusCode::NOT_FOUND,
        body: json::error("not_found", "unknown API endpoint"),
    }
}
