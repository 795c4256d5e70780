//! A hub running on its own thread and Tokio runtime, for `insitu demo`,
//! tests and benchmarks: start it, talk to `url()`, stop it (or drop it, which
//! is an abrupt stop — useful for crash tests).

use crate::db::HubDb;
use crate::error::{io_err, HubError, Result};
use std::path::Path;

/// A hub serving on a loopback port in the background.
pub struct RunningHub {
    url: String,
    db: HubDb,
    runtime: Option<tokio::runtime::Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl RunningHub {
    /// Opens the hub in `home` (default SQLite, or `db_url`) and serves on
    /// `listen` (e.g. `127.0.0.1:0` for a free port).
    pub fn start(home: &Path, db_url: Option<&str>, listen: &str) -> Result<RunningHub> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(io_err(home))?;
        let db = runtime.block_on(HubDb::open(home, db_url))?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(listen))
            .map_err(|e| HubError::Invalid(format!("cannot listen on {listen}: {e}")))?;
        let addr = listener.local_addr().map_err(io_err(home))?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = runtime.spawn(crate::server::serve(db.clone(), listener, async move {
            let _ = rx.await;
        }));
        Ok(RunningHub {
            url: format!("http://{addr}"),
            db,
            runtime: Some(runtime),
            stop: Some(tx),
            server: Some(server),
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs a database operation (admin, ledger) on the hub's runtime.
    pub fn block_on<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.runtime
            .as_ref()
            .map(|r| r.block_on(f))
            .unwrap_or_else(|| unreachable!("runtime present until drop"))
    }

    /// The hub's database.
    pub fn db(&self) -> &HubDb {
        &self.db
    }

    /// Graceful stop: finishes in-flight requests, closes the database.
    pub fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let (Some(rt), Some(server)) = (self.runtime.as_ref(), self.server.take()) {
            let _ = rt.block_on(server);
            rt.block_on(self.db.close());
        }
    }
}

impl Drop for RunningHub {
    /// Dropping without [`RunningHub::stop`] kills the server abruptly:
    /// in-flight requests are cut off, as in a crash.
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Creates a fresh, uniquely named database on the PostgreSQL server at
/// `admin_url` and returns its URL — so that tests and benchmarks each get
/// an empty hub. Not used by the hub itself.
pub fn scratch_postgres_database(admin_url: &str) -> Result<String> {
    use sqlx::Executor;
    sqlx::any::install_default_drivers();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| HubError::Internal(e.to_string()))?;
    let name = format!("insitu_test_{}", crate::db::random_hex(6));
    runtime.block_on(async {
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(admin_url)
            .await?;
        pool.execute(format!("CREATE DATABASE {name}").as_str())
            .await?;
        pool.close().await;
        Ok::<_, HubError>(())
    })?;
    let (base, _) = admin_url
        .rsplit_once('/')
        .ok_or_else(|| HubError::Invalid(format!("{admin_url}: expected postgres://…/DBNAME")))?;
    Ok(format!("{base}/{name}"))
}
