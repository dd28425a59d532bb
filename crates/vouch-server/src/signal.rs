//! The process's shutdown signal.

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM. A signal that cannot be installed is
/// treated as never arriving.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// A multi-threaded tokio runtime (all drivers enabled) whose threads are named `name`.
pub fn runtime(name: &str) -> Result<tokio::runtime::Runtime, crate::ServerError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(name)
        .build()
        .map_err(crate::ServerError::Runtime)
}
