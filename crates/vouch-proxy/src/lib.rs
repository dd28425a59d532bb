//! # vouch-proxy
//!
//! A verifying proof cache in front of a transparency log that serves the C2SP tlog-tiles read
//! API (<https://github.com/C2SP/C2SP/blob/main/tlog-tiles.md>), such as `vouch serve log` or a
//! Rekor v2 log. Clients close to their deployments get checkpoints, tiles and inclusion
//! proofs (`c2sp.org/tlog-proof@v1`, <https://github.com/C2SP/C2SP/blob/main/tlog-proof.md>,
//! or Sigstore `InclusionProof` JSON) from it instead of the central log.
//!
//! Nothing is stored or served unverified: checkpoints are checked against the log key (and a
//! C2SP tlog-policy witness quorum), each advance is proven consistent with the last served
//! checkpoint, and every tile is checked against the checkpoint before it is written (see
//! [`proxy`] for the rules). A forked or lying upstream is refused and the cache stays as it
//! was. When the upstream is down, answers come from the cache, marked stale, until
//! `max_stale`; then the proxy fails closed.

pub mod api;
mod error;
pub mod metrics;
pub mod nodes;
pub mod proxy;
pub mod store;
pub mod upstream;

pub use error::ProxyError;
pub use proxy::{Config, Freshness, Proxy};
pub use store::Store;
