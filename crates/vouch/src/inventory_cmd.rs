//! `vouch inventory`: the short-lived certificates a log recorded over a time window, grouped
//! by identity, issuer or repository (vouch-audit's [`vouch_audit::inventory`], reading the log
//! with the monitor's tile client and entry decoder), as JSON or CSV.

use crate::tlog::hinted;
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use vouch_audit::inventory::{Api, GroupBy, Inventory, scan_tiles, scan_v1};

/// `vouch inventory`.
///
/// Time of an entry: a tiles (Rekor v2) log records no integrated time, so the certificate's
/// notBefore (when Fulcio issued it, minutes before the signature) is used; a Rekor v1 log's
/// integratedTime is used for v1. The log is read from its newest entry backwards until the
/// window starts. Entries are not proven against the checkpoint here: `vouch monitor` does
/// that.
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct InventoryArgs {
    /// The log's base URL (tiles at <URL>/checkpoint, or the Rekor v1 API at <URL>/api/v1/log).
    #[arg(long)]
    log: String,
    /// The window, back from now: `7d`, `30d`, `12h`, `90m`.
    #[arg(long, default_value = "7d", value_parser = parse_since)]
    since: jiff::SignedDuration,
    /// What to group the certificates by: the SAN, the OIDC issuer, or the source repository
    /// (Fulcio 1.12, else 1.5) with its workflows (1.18 buildConfigURI).
    #[arg(long, value_enum, default_value_t = Grouping::Identity)]
    group_by: Grouping,
    /// How to read the log [default: tiles if it serves /checkpoint, else Rekor v1].
    #[arg(long, value_enum)]
    api: Option<ApiArg>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = InventoryOutput::Json)]
    output: InventoryOutput,
    /// Write here instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// `--group-by`.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Grouping {
    /// Certificate SAN (email, URI).
    Identity,
    /// OIDC issuer.
    Issuer,
    /// Source repository and workflow.
    Repository,
}

/// `--api` (of `vouch inventory` and `vouch monitor`).
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ApiArg {
    /// C2SP tlog-tiles (Rekor v2, vouch).
    Tiles,
    /// Rekor v1 `/api/v1/log/entries`.
    V1,
}

impl From<ApiArg> for vouch_monitor::LogApi {
    fn from(a: ApiArg) -> Self {
        match a {
            ApiArg::Tiles => Self::Tiles,
            ApiArg::V1 => Self::V1,
        }
    }
}

/// `--output`.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum InventoryOutput {
    /// JSON.
    Json,
    /// CSV with a header row.
    Csv,
}

/// A window back from now: `<n>d`, or a duration jiff reads (`12h`, `90m`, `1h30m`).
pub fn parse_since(s: &str) -> Result<jiff::SignedDuration, String> {
    let d = match s.strip_suffix('d') {
        Some(days) => {
            let n: i64 = days
                .parse()
                .map_err(|_| format!("{s:?}: expected a window like 7d, 12h or 90m"))?;
            jiff::SignedDuration::from_hours(n.saturating_mul(24))
        }
        None => s
            .parse::<jiff::SignedDuration>()
            .map_err(|e| format!("{s:?}: expected a window like 7d, 12h or 90m ({e})"))?,
    };
    if d.is_negative() || d.is_zero() {
        return Err(format!("{s:?}: the window must be longer than zero"));
    }
    Ok(d)
}

/// Run `vouch inventory`.
pub fn run(a: &InventoryArgs) -> Result<()> {
    let now = jiff::Timestamp::now();
    let since = now
        .checked_sub(a.since)
        .map_err(|e| anyhow::anyhow!("--since: {e}"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let api = match a.api {
        Some(a) => a.into(),
        None => rt
            .block_on(vouch_monitor::detect_api(&a.log))
            .map_err(|e| {
                hinted(
                    e.to_string(),
                    "is --log the log's base URL (http://127.0.0.1:3001 for `vouch up`)?",
                )
            })?,
    };
    let scan = rt
        .block_on(async {
            match api {
                Api::Tiles => scan_tiles(&a.log, since).await,
                Api::V1 => scan_v1(&a.log, since).await,
            }
        })
        .map_err(|e| {
            hinted(
                e.to_string(),
                "is --log the log's base URL (http://127.0.0.1:3001 for `vouch up`)?",
            )
        })?;
    let group_by = match a.group_by {
        Grouping::Identity => GroupBy::Identity,
        Grouping::Issuer => GroupBy::Issuer,
        Grouping::Repository => GroupBy::Repository,
    };
    let inv = Inventory::new(a.log.clone(), api, &scan, group_by, since, now);
    let text = match a.output {
        InventoryOutput::Json => inv.to_json()? + "\n",
        InventoryOutput::Csv => inv.to_csv(),
    };
    match &a.out {
        Some(p) => vouch_fs::write_durably(p, text.as_bytes(), vouch_fs::Access::Public)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))?,
        None => print!("{text}"),
    }
    eprintln!(
        "{} certificates in {} groups since {} ({} entries read of {}; time: {})",
        inv.certificates,
        inv.groups.len(),
        inv.since,
        inv.entries_scanned,
        inv.tree_size,
        inv.time_source
    );
    Ok(())
}
