//! `vouch`: the single binary of the vouch Sigstore stack.
//!
//! Verification commands mirror cosign's verbs and flag names (`verify-blob`,
//! `verify-blob-attestation`, `--certificate-identity`, `--certificate-oidc-issuer`, …).

mod cli;
mod inspect;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(hint) = cli::hint_for(&e) {
                eprintln!("hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}
