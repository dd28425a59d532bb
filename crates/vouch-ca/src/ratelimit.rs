//! Per-identity and per-issuer issuance rate limits (`RateLimits` in the CA config), counted
//! in a sliding window with bounded memory ([`vouch_core::window::SlidingWindow`]).
//!
//! A request is counted against both limits only when both allow it, so a request refused by
//! the issuer's limit does not use up the identity's allowance.

use crate::config::{RateLimit, RateLimits};
use std::sync::Mutex;
use vouch_core::window::{DEFAULT_MAX_KEYS, SlidingWindow};

/// A refusal: which limit, its setting, and when to retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{scope} {key} reached the {field} limit of {requests} certificates per {window}; retry in {retry_after}s"
)]
pub struct RateLimited {
    /// `perIdentity` or `perIssuer`.
    pub field: &'static str,
    /// `identity` or `issuer`.
    pub scope: &'static str,
    /// The identity or issuer.
    pub key: String,
    /// The configured requests per window.
    pub requests: u32,
    /// The configured window, as written.
    pub window: String,
    /// Seconds until a request would be allowed.
    pub retry_after: u64,
}

/// The CA's rate limiter.
pub struct RateLimiter {
    per_identity: Option<RateLimit>,
    per_issuer: Option<RateLimit>,
    counts: Mutex<(Option<SlidingWindow>, Option<SlidingWindow>)>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("per_identity", &self.per_identity)
            .field("per_issuer", &self.per_issuer)
            .finish()
    }
}

fn counts(config: &Option<RateLimit>) -> Option<SlidingWindow> {
    let c = config.as_ref()?;
    // validate() checked the window; an unparsable one would have refused the config.
    let secs = c.window().map(|d| d.as_secs().max(1)).unwrap_or(1);
    Some(SlidingWindow::new(c.requests, secs, DEFAULT_MAX_KEYS))
}

impl RateLimiter {
    /// A limiter for `config`, `None` when it limits nothing.
    pub fn new(config: &RateLimits) -> Option<Self> {
        if config.is_empty() {
            return None;
        }
        Some(Self {
            counts: Mutex::new((counts(&config.per_identity), counts(&config.per_issuer))),
            per_identity: config.per_identity.clone(),
            per_issuer: config.per_issuer.clone(),
        })
    }

    /// Count one issuance to `identity` vouched for by `issuer` at `now` (unix seconds), or
    /// refuse it when a limit is reached.
    pub fn check(&self, identity: &str, issuer: &str, now: u64) -> Result<(), RateLimited> {
        let mut st = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let identity_key = format!("{identity} (issuer {issuer})");
        let (ids, issuers) = &mut *st;
        for (limit, counts, key, field, scope, shown) in [
            (
                &self.per_identity,
                ids.as_ref(),
                identity_key.as_str(),
                "perIdentity",
                "identity",
                identity_key.as_str(),
            ),
            (
                &self.per_issuer,
                issuers.as_ref(),
                issuer,
                "perIssuer",
                "issuer",
                issuer,
            ),
        ] {
            if let (Some(l), Some(c)) = (limit, counts)
                && let Some(retry_after) = c.retry_after(key, now)
            {
                return Err(RateLimited {
                    field,
                    scope,
                    key: shown.to_string(),
                    requests: l.requests,
                    window: l.window.clone(),
                    retry_after,
                });
            }
        }
        if let Some(c) = ids.as_mut() {
            c.record(&identity_key, now);
        }
        if let Some(c) = issuers.as_mut() {
            c.record(issuer, now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rl(requests: u32, window: &str) -> Option<RateLimit> {
        Some(RateLimit {
            requests,
            window: window.into(),
        })
    }

    #[test]
    fn identity_limit_spares_other_identities_and_issuer_limit_spares_the_identity() {
        let l = RateLimiter::new(&RateLimits {
            per_identity: rl(2, "60s"),
            per_issuer: rl(3, "60s"),
        })
        .unwrap_or_else(|| panic!("no limiter"));
        assert!(l.check("a@x", "https://i", 0).is_ok());
        assert!(l.check("a@x", "https://i", 1).is_ok());
        let e = l
            .check("a@x", "https://i", 2)
            .err()
            .unwrap_or_else(|| panic!("allowed"));
        assert_eq!((e.field, e.retry_after), ("perIdentity", 58));
        assert!(l.check("b@x", "https://i", 2).is_ok());
        let e = l
            .check("c@x", "https://i", 3)
            .err()
            .unwrap_or_else(|| panic!("allowed"));
        assert_eq!(e.field, "perIssuer");
        // The refused request did not count against c@x.
        assert!(l.check("c@x", "https://i", 61).is_ok());
        assert!(RateLimiter::new(&RateLimits::default()).is_none());
    }
}
