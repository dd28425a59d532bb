//! The one HTTP server bootstrap of every vouch service (log, CT, CA, TSA, OIDC, TUF,
//! admission, …): bind a listener, optionally terminate TLS (rustls, certificate and key from
//! PEM), serve an axum [`Router`](axum::Router) over HTTP/1.1 and HTTP/2 with bounded
//! resources, and shut down gracefully.
//!
//! What a client can hold is bounded by [`Limits`] (defaults in [`limits`]):
//! - a header-read timeout (slow-loris heads), an idle keep-alive timeout, a request-body
//!   timeout (`408`);
//! - a connection budget per listener: a connection over it is answered `503` with
//!   `Retry-After` and closed, instead of being accepted without bound;
//! - a declared `Content-Length` over the service's limit is answered `413` before any body is
//!   read.
//!
//! HTTPS (e.g. an admission webhook):
//!
//! ```no_run
//! # async fn demo(router: axum::Router) -> Result<(), vouch_server::ServerError> {
//! use std::path::Path;
//! let tls = vouch_server::TlsConfig::from_pem_files(Path::new("tls.crt"), Path::new("tls.key"))?;
//! let limits = vouch_server::Limits::default().with_max_request_body_bytes(3 * 1024 * 1024);
//! let server = vouch_server::Server::bind("0.0.0.0:8443")
//!     .await?
//!     .named("admission")
//!     .with_limits(limits)
//!     .with_tls(Some(tls));
//! server.serve(router, vouch_server::shutdown_signal()).await;
//! # Ok(()) }
//! ```
//!
//! Why not `axum::serve`: it has no timer, no connection cap and no TLS, so every one of the
//! limits above would have to be added around it anyway (hyper's own `header_read_timeout`
//! also runs while a keep-alive connection is idle, and does not exist for HTTP/2).

pub mod access;
mod body;
mod conn;
mod error;
pub mod fds;
pub mod limits;
mod server;
mod signal;
mod tls;

pub use body::RequestBodyError;
pub use error::ServerError;
pub use fds::{raise_open_files_limit, share_budgets};
pub use limits::Limits;
pub use server::Server;
pub use signal::{runtime, shutdown_signal};
pub use tls::TlsConfig;
