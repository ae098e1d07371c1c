//! `styx serve`: a model server that speaks Openscoring's REST API, so that Openscoring's
//! clients work against it unchanged, over the models of the store.
//!
//! Models deployed over HTTP are stored in the store (`styx_store`), so that they survive
//! a restart and running jobs that score with `model = "store:ID"` pick them up. Scores
//! are those of `styx score`: the same evaluator, the same formatting.
//!
//! The modules: [`config`] (what the command line sets), `models` (the deployed models
//! and how they are described), `roles` (who may do what), `evaluate` (records in and
//! results out as JSON), `api` (the routes) and `error` (the error bodies every failure
//! gets).

mod api;
pub mod config;
mod error;
mod evaluate;
pub mod jobs;
mod jobs_api;
mod metrics;
mod models;
mod roles;

use std::sync::Arc;

use tower::Layer;

pub use config::Config;

/// The value of the `X-Application` header of every response: Openscoring's clients
/// check it.
pub const APPLICATION: &str = concat!("Openscoring/2.1.1 Styx/", env!("CARGO_PKG_VERSION"));

/// Runs the server until `shutdown` completes (then finishes the requests in flight).
/// Prints `listening on http://HOST:PORT/BASE` on stdout once it accepts requests.
pub async fn serve(
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    serve_jobs(config, Arc::new(jobs::Jobs::default()), shutdown).await
}

/// [`serve`], with `jobs` as the server's jobs (`styx run --web` registers its one job
/// there before).
pub async fn serve_jobs(
    config: Config,
    jobs: Arc<jobs::Jobs>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let store = styx_store::Store::open(&config.store_url)
        .map_err(|e| format!("cannot open the store: {e}"))?;
    let registry = models::Registry::load(Arc::new(store), config.models_dir.as_deref())?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let metrics = metrics::Metrics::new(jobs.clone());
    let jobs_left = jobs.clone();
    metrics.deployed(registry.all().len());
    let app = api::router(
        Arc::new(api::State {
            registry,
            roles: roles::Roles::new(&config),
            base: config.base_path.clone(),
            metrics,
            jobs,
            work_dir: std::env::current_dir().map_err(|e| e.to_string())?,
        }),
        &config,
    );
    println!(
        "listening on http://{local}{}",
        if config.base_path == "/" {
            ""
        } else {
            config.base_path.as_str()
        }
    );
    // The method override is applied before routing, so that roles are checked for the
    // method the request stands for.
    let app = axum::middleware::map_request(api::override_method).layer(app);
    axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
            std::net::SocketAddr,
        >(app),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(|e| e.to_string())?;
    // The jobs the server runs end with it (as when cancelled).
    jobs_left.cancel_all().await;
    Ok(())
}
