//! `sediment serve`: the Prometheus HTTP API over a database, for Grafana's Prometheus
//! data source, `promtool` and other Prometheus clients. Read-only; bound to loopback
//! unless told otherwise; answers PromQL through `sedimentdb-promql`.

mod handlers;
mod json;
mod params;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use clap::Args;
use sedimentdb_promql::{EvalOptions, PromError};

use crate::exit::{CliError, CliResult, Status};
use crate::output::Global;
use params::Params;
use state::Snapshot;

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Loopback by default; port 0 picks a free port (the
    /// address is printed on the first line of stdout).
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub listen: SocketAddr,

    /// Reopen the database this often to see what a writer flushed (0 = never).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub refresh: Duration,

    /// How far back an instant selector looks for a sample (Prometheus'
    /// --query.lookback-delta); a request's `lookback_delta` parameter overrides it.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub lookback_delta: Duration,

    /// Most raw samples one query may load (Prometheus' --query.max-samples).
    #[arg(long, default_value_t = 50_000_000)]
    pub max_samples: u64,

    /// Most series one selector may match.
    #[arg(long, default_value_t = 1_000_000)]
    pub max_series: u64,
}

/// What every request shares.
pub struct ServerState {
    snapshot: Snapshot,
    options: EvalOptions,
}

impl ServerState {
    /// The evaluation options of one request (its `lookback_delta` applied).
    fn options(&self, p: &Params) -> Result<EvalOptions, PromError> {
        match p.duration("lookback_delta")? {
            None => Ok(self.options.clone()),
            Some(ns) => self
                .options
                .clone()
                .lookback_delta(Duration::from_nanos(ns.max(0) as u64)),
        }
    }
}

/// The router: every endpoint Grafana's data source and promtool call, GET and POST.
pub fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/api/v1/query", get(handlers::query).post(handlers::query))
        .route(
            "/api/v1/query_range",
            get(handlers::query_range).post(handlers::query_range),
        )
        .route(
            "/api/v1/series",
            get(handlers::series).post(handlers::series),
        )
        .route(
            "/api/v1/labels",
            get(handlers::labels).post(handlers::labels),
        )
        .route("/api/v1/label/{name}/values", get(handlers::label_values))
        .route("/api/v1/status/buildinfo", get(handlers::buildinfo))
        .route("/api/v1/metadata", get(handlers::metadata))
        .route(
            "/api/v1/query_exemplars",
            get(handlers::exemplars).post(handlers::exemplars),
        )
        .route("/-/healthy", get(|| async { "sediment is Healthy.\n" }))
        .route("/-/ready", get(|| async { "sediment is Ready.\n" }))
        .fallback(handlers::not_found)
        .with_state(state)
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Serves until SIGINT/SIGTERM, then closes the database.
pub fn run(global: &Global, args: ServeArgs) -> CliResult<Status> {
    let options = EvalOptions::default()
        .lookback_delta(args.lookback_delta)
        .and_then(|o| o.max_samples(args.max_samples))
        .and_then(|o| o.max_series(args.max_series))
        .map_err(|e| CliError::new(format!("bad option: {e}")))?;
    let db = global.open_for_reading()?;
    let state = Arc::new(ServerState {
        snapshot: Snapshot::new(db),
        options,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::new(format!("cannot start the HTTP runtime: {e}")))?;
    runtime.block_on(serve(global.clone(), args, state.clone()))?;
    drop(runtime);
    // Every request has finished: close the database cleanly.
    state.snapshot.current().close()?;
    eprintln!("sediment: server stopped");
    Ok(Status::Ok)
}

async fn serve(global: Global, args: ServeArgs, state: Arc<ServerState>) -> CliResult<()> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError::new(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    if !addr.ip().is_loopback() {
        eprintln!("sediment: warning: {addr} is reachable from other hosts; the API has no authentication");
    }
    if !args.refresh.is_zero() {
        tokio::spawn(refresh_loop(global, args.refresh, state.clone()));
    }
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| CliError::new(format!("server failed: {e}")))
}

/// Reopens the database every `every`; a failure keeps the old snapshot and is reported
/// once until an open succeeds again.
async fn refresh_loop(global: Global, every: Duration, state: Arc<ServerState>) {
    let mut reported = false;
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let g = global.clone();
        match tokio::task::spawn_blocking(move || reopen(&g)).await {
            Ok(Ok(Some(db))) => {
                state.snapshot.replace(db);
                reported = false;
            }
            Ok(Ok(None)) => return, // the open holds the database: nothing can change under it
            Ok(Err(e)) if !reported => {
                eprintln!("sediment: refresh failed, answering from the previous snapshot: {e}");
                reported = true;
            }
            _ => {}
        }
    }
}

/// A fresh read-only snapshot of the database (what a writer flushed since the last).
fn reopen(global: &Global) -> CliResult<Option<sedimentdb::Db>> {
    global.open_for_reading().map(Some)
}
