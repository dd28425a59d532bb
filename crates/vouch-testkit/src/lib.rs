//! # vouch-testkit
//!
//! Helpers shared by vouch's test suites (a dev-dependency only).
//!
//! Tests that need a peer (sigstore-python, openssl, docker-registry, SoftHSM2, the shared test
//! data, …) report a missing one through [`skip`]. On a developer's machine that prints `SKIP:`
//! and the test part returns; with `VOUCH_REQUIRE_PEERS=1`, which CI sets, it fails the test,
//! so a peer that did not install can never turn CI green.

use std::fmt::Display;

/// The environment variable that turns every SKIP into a failure.
pub const REQUIRE_PEERS_ENV: &str = "VOUCH_REQUIRE_PEERS";

/// Whether missing peers fail the tests (`VOUCH_REQUIRE_PEERS=1`).
pub fn peers_required() -> bool {
    std::env::var(REQUIRE_PEERS_ENV).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// Report that part of a test cannot run here because `reason`: prints `SKIP: reason`, or
/// panics when [`peers_required`]. The caller returns (or continues without that part).
#[track_caller]
#[allow(clippy::panic)]
pub fn skip(reason: impl Display) {
    if peers_required() {
        panic!("{REQUIRE_PEERS_ENV}=1 but a required peer is missing: {reason}");
    }
    eprintln!("SKIP: {reason}");
}

pub mod scale;
