//! `--metrics-push URL`: the CLI's sign and verify outcomes pushed to a Prometheus Pushgateway,
//! for CI jobs that exit before any scrape.
//!
//! Each run pushes into its own group, `/metrics/job/vouch-cli/run/<run id>` (the id is
//! `$VOUCH_RUN_ID`, else random), so that pushes from many jobs add up in PromQL
//! (`sum(vouch_cli_signings_total)`) instead of replacing each other. A failed push is a
//! warning: it never changes the command's outcome.

use std::time::Duration;

/// Which CLI counter to push.
#[derive(Clone, Copy, Debug)]
pub enum Outcome {
    /// `vouch_cli_signings_total{command,outcome}`.
    Signing,
    /// `vouch_cli_verifications_total{command,outcome}`.
    Verification,
}

/// The Prometheus text exposition (format 0.0.4) of one outcome counter.
pub fn exposition(what: Outcome, command: &str, ok: bool) -> String {
    let (name, help) = match what {
        Outcome::Signing => (
            "vouch_cli_signings_total",
            "Signings by the vouch CLI, by command and outcome",
        ),
        Outcome::Verification => (
            "vouch_cli_verifications_total",
            "Verifications by the vouch CLI, by command and outcome",
        ),
    };
    let outcome = if ok { "success" } else { "failure" };
    // Label values here are fixed command names: nothing to escape.
    format!(
        "# HELP {name} {help}\n# TYPE {name} counter\n{name}{{command=\"{command}\",outcome=\"{outcome}\"}} 1\n"
    )
}

/// The grouping key of this run.
pub fn run_id() -> String {
    match std::env::var("VOUCH_RUN_ID") {
        Ok(v)
            if !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            v
        }
        _ => format!("{:032x}", rand::random::<u128>()),
    }
}

/// Push the outcome to the gateway at `base` (its base URL); prints a warning on failure.
pub fn push(base: &str, what: Outcome, command: &str, ok: bool) {
    let url = format!(
        "{}/metrics/job/vouch-cli/run/{}",
        base.trim_end_matches('/'),
        run_id()
    );
    let body = exposition(what, command, ok);
    let res = (|| -> anyhow::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            let http = reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(10))
                .build()?;
            let r = http
                .post(&url)
                .header("content-type", "text/plain; version=0.0.4")
                .body(body)
                .send()
                .await?;
            if !r.status().is_success() {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                anyhow::bail!("HTTP {status}: {}", text.trim());
            }
            Ok(())
        })
    })();
    if let Err(e) = res {
        eprintln!("warning: cannot push metrics to {url}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_lines() {
        let t = exposition(Outcome::Verification, "verify-blob", false);
        assert!(t.ends_with(
            "vouch_cli_verifications_total{command=\"verify-blob\",outcome=\"failure\"} 1\n"
        ));
        assert!(t.contains("# TYPE vouch_cli_verifications_total counter\n"));
        assert_eq!(run_id().len(), 32);
    }
}
