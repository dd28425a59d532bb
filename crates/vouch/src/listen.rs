//! Flags of the shared server bootstrap (`vouch-server`): connection limits, timeouts and TLS,
//! the same for every `vouch serve …` and for `vouch up`.

use crate::serve::parse_duration;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;
use vouch_server::{Limits, TlsConfig, limits};

/// Timeouts of every listener (defaults: `vouch_server::limits`).
#[derive(Args, Debug, Clone)]
pub struct TimeoutArgs {
    /// Time a client has to send a complete request head (from accept, TLS handshake included,
    /// for a connection's first request; from its first byte for later ones).
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub header_read_timeout: Duration,
    /// Time a keep-alive connection may sit idle between requests before it is closed.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub idle_timeout: Duration,
    /// Time a client has to send a whole request body (answered 408 after that).
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub request_body_timeout: Duration,
}

impl TimeoutArgs {
    /// The listener limits with these timeouts, a connection budget and the service's own
    /// request body limit (for the early 413).
    pub fn limits(&self, max_connections: usize, max_request_body_bytes: usize) -> Limits {
        Limits {
            header_read_timeout: self.header_read_timeout,
            idle_timeout: self.idle_timeout,
            request_body_timeout: self.request_body_timeout,
            max_connections,
            max_request_body_bytes: max_request_body_bytes as u64,
            shutdown_grace: limits::DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

/// Most connections one listener may be given: `1..=1_000_000`.
pub fn parse_connections(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a number of connections from 1 to 1000000, got {s:?}"
        )),
    }
}

/// A `--listen` value as a socket address: `:PORT` (Go's shorthand, as in `--listen :3010`)
/// means every interface; anything else is used as given.
pub fn listen_addr(listen: &str) -> std::borrow::Cow<'_, str> {
    match listen.strip_prefix(':') {
        Some(port) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            format!("0.0.0.0:{port}").into()
        }
        _ => listen.into(),
    }
}

/// Listener flags of a single `vouch serve …` server.
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    #[command(flatten)]
    pub timeouts: TimeoutArgs,
    /// Connections served at once; beyond that new connections are answered 503.
    #[arg(long, default_value_t = limits::DEFAULT_MAX_CONNECTIONS, value_name = "N",
          value_parser = crate::listen::parse_connections)]
    pub max_connections: usize,
    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key.
    #[arg(long, requires = "tls_key", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, SEC1 or PKCS#1).
    #[arg(long, requires = "tls_cert", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
}

impl ServerArgs {
    /// Bind `listen` with these limits (and TLS when asked); `name` appears in log lines.
    pub async fn bind(
        &self,
        name: &str,
        listen: &str,
        max_request_body_bytes: usize,
    ) -> Result<vouch_server::Server> {
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsConfig::from_pem_files(cert, key)?),
            _ => None,
        };
        let addr = listen_addr(listen);
        let server = vouch_server::Server::bind(&*addr)
            .await?
            .named(name)
            .with_limits(
                self.timeouts
                    .limits(self.max_connections, max_request_body_bytes),
            )
            .with_tls(tls);
        Ok(server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        s: ServerArgs,
    }

    #[test]
    fn port_only_listen_means_every_interface() {
        assert_eq!(listen_addr(":3010"), "0.0.0.0:3010");
        assert_eq!(listen_addr("127.0.0.1:3010"), "127.0.0.1:3010");
        assert_eq!(listen_addr("[::1]:3010"), "[::1]:3010");
        assert_eq!(listen_addr(":x"), ":x");
    }

    #[test]
    fn defaults_are_the_bootstrap_constants() {
        let t = T::try_parse_from(["t"]).unwrap_or_else(|e| panic!("{e}"));
        let l = t.s.timeouts.limits(t.s.max_connections, 1);
        let d = Limits::default();
        assert_eq!(l.header_read_timeout, d.header_read_timeout);
        assert_eq!(l.idle_timeout, d.idle_timeout);
        assert_eq!(l.request_body_timeout, d.request_body_timeout);
        assert_eq!(l.max_connections, d.max_connections);
        assert!(T::try_parse_from(["t", "--max-connections", "0"]).is_err());
        assert!(T::try_parse_from(["t", "--tls-cert", "c.pem"]).is_err());
    }
}
