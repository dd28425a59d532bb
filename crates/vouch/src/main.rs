//! `vouch`: the single binary of the vouch Sigstore stack.
//!
//! Verification commands mirror cosign's verbs and flag names (`verify-blob`,
//! `verify-blob-attestation`, `--certificate-identity`, `--certificate-oidc-issuer`, …).

mod admission_cmd;
mod airgap_cmd;
mod audit_cmd;
mod bench;
mod bench_cpu;
mod ca;
mod cli;
mod exception_cmd;
mod gitsign_cmd;
mod inspect;
mod inventory_cmd;
mod keys_cmd;
mod listen;
mod login;
mod metrics_push;
mod model_cmd;
mod monitor_cmd;
mod observability;
mod oci_cmd;
mod oidc;
mod pkcs11_cmd;
mod policy_cmd;
mod proxy_cmd;
mod scale;
mod serve;
mod sign_cmd;
mod telemetry;
mod tlog;
mod trust;
mod tsa;
mod up;
mod witness_cmd;

use clap::{CommandFactory, FromArgMatches};
use std::process::ExitCode;

/// mimalloc instead of glibc malloc: the servers allocate per request from many tokio and
/// blocking-pool threads, where glibc's per-thread arenas cost about 14% of the log's CPU per
/// append and fragment over long runs (docs/performance.md, issue 19).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let matches = cli::Cli::command().get_matches();
    let args = match cli::Cli::from_arg_matches(&matches) {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    // Logs (and, when configured, OpenTelemetry traces) for the whole run; flushed on drop.
    let _telemetry = telemetry::install(
        args.log_format(),
        args.log_requests(),
        matches.subcommand_name().unwrap_or("vouch"),
    );
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            if let Some(hint) = cli::hint_for(&e) {
                eprintln!("hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, skipping causes already spelled out by their parent.
fn one_line(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg.replace('\n', " ")
}
