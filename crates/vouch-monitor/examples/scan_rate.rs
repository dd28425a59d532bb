//! Measure how fast the monitor scans a log: one full pass from an empty state over the log at
//! `URL`, watching one certificate identity, then entries per second.
//!
//! `cargo run --release -p vouch-monitor --example scan_rate -- URL LOG_KEY.pem [CONCURRENCY]`

use std::time::Instant;
use vouch_monitor::alert::Sinks;
use vouch_monitor::config::Config;
use vouch_monitor::{Monitor, MonitorOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(key)) = (args.next(), args.next()) else {
        return Err("usage: scan_rate URL LOG_KEY.pem [CONCURRENCY]".into());
    };
    let concurrency = args.next().map(|c| c.parse()).transpose()?.unwrap_or(16);
    let log_key = vouch_core::keys::PublicKey::from_pem(&std::fs::read_to_string(key)?)?;
    let state = tempfile::tempdir()?;
    let config = Config::parse(
        b"monitoredValues:\n  certIdentities:\n    - certSubject: ^release@example\\.com$\n",
    )?;
    let monitor = Monitor::new(MonitorOptions {
        log_url: url,
        log_key,
        state_dir: state.path().to_path_buf(),
        config,
        witness_policy: None,
        authorized: None,
        sinks: Sinks::new(false, None)?,
        concurrency,
    })?;
    let t = Instant::now();
    let r = monitor.run_once().await?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "entries={} alerts={} seconds={secs:.2} entries_per_sec={:.0} concurrency={concurrency}",
        r.entries,
        r.alerts,
        r.entries as f64 / secs
    );
    Ok(())
}
