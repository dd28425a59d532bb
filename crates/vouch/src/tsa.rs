//! `vouch serve tsa`: an RFC 3161 timestamp authority compatible with
//! sigstore/timestamp-authority (`POST /api/v1/timestamp`, `GET /api/v1/timestamp/certchain`).
//!
//! `vouch bench tsa`: a load generator for it. It pre-generates distinct DER (or JSON) timestamp
//! requests over random "signatures", checks one answer against the served chain with vouch-core's
//! verifier, then runs `--clients` concurrent clients posting requests back to back for
//! `--duration`.

use crate::bench::{check_local, post_load};
use crate::serve::{init_tracing, parse_duration, shutdown_signal};
use crate::tlog::hinted;
use anyhow::{Result, anyhow, bail};
use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vouch_log::storage::write_file_durably;
use vouch_tsa::{HashAlgorithm, TimestampRequest, TsaKeyAlgorithm, TsaOptions, TsaService};

/// TSA key curve (used when the key is generated on first start).
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum TsaKeyAlg {
    /// ECDSA P-256, tokens signed with ecdsa-with-SHA256.
    EcdsaP256,
    /// ECDSA P-384, tokens signed with ecdsa-with-SHA384.
    EcdsaP384,
}

impl From<TsaKeyAlg> for TsaKeyAlgorithm {
    fn from(a: TsaKeyAlg) -> Self {
        match a {
            TsaKeyAlg::EcdsaP256 => TsaKeyAlgorithm::EcdsaP256,
            TsaKeyAlg::EcdsaP384 => TsaKeyAlgorithm::EcdsaP384,
        }
    }
}

/// `vouch serve tsa`.
#[derive(Args, Debug)]
pub struct ServeTsaArgs {
    /// Address to listen on (port 0 picks a free port; the URL is printed).
    #[arg(long, default_value = "127.0.0.1:3005")]
    pub listen: String,
    /// Data directory: signing key (tsa.key, PKCS#8, mode 0600) and chain.pem, generated on
    /// first start and reloaded afterwards (created if missing).
    #[arg(long)]
    pub data: PathBuf,
    /// Signing key curve when generating the key on first start [default: ecdsa-p256].
    #[arg(long, value_enum)]
    pub key_algorithm: Option<TsaKeyAlg>,
    /// TSTInfo policy OID; requests naming another policy are refused.
    #[arg(long, default_value = vouch_tsa::DEFAULT_POLICY_OID)]
    pub policy: String,
    /// URL to name the authority by in the trusted root entry
    /// [default: <listening URL>/api/v1/timestamp].
    #[arg(long)]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub server: crate::listen::ServerArgs,
}

/// Run the timestamp authority until SIGINT/SIGTERM.
pub fn serve(a: &ServeTsaArgs) -> Result<()> {
    if a.data.exists() && !a.data.is_dir() {
        bail!("--data {} is not a directory", a.data.display());
    }
    let mut opts = TsaOptions::default();
    if let Some(k) = a.key_algorithm {
        opts.key_algorithm = k.into();
    }
    opts.policy = a.policy.clone();
    let key_existed = a.data.join(vouch_tsa::KEY_FILE).exists();
    let svc = TsaService::load_or_generate(&a.data, &opts)
        .map_err(|e| anyhow!("cannot load the TSA in {}: {e}", a.data.display()))?;
    if key_existed
        && let Some(want) = a.key_algorithm
        && svc.key_algorithm() != TsaKeyAlgorithm::from(want)
    {
        return Err(hinted(
            format!(
                "the TSA key in {} is {}, not {}",
                a.data.display(),
                svc.key_algorithm().name(),
                TsaKeyAlgorithm::from(want).name()
            ),
            "the key is generated on first start and kept: drop --key-algorithm, or use a new --data directory",
        ));
    }
    let svc = Arc::new(svc);

    init_tracing();
    let rt = vouch_server::runtime("vouch-tsa")?;
    rt.block_on(async move {
        let server = a
            .server
            .bind("tsa", &a.listen, vouch_tsa::MAX_BODY_BYTES)
            .await?;
        let url = server.url();
        let public_url = a
            .public_url
            .clone()
            .unwrap_or_else(|| format!("{url}/api/v1/timestamp"));

        let entry = svc.trusted_root_entry(&public_url, &svc.valid_from());
        let tr_path = a.data.join("trusted_root.tsa.json");
        write_file_durably(&tr_path, &serde_json::to_vec_pretty(&entry)?, false)
            .map_err(|e| anyhow!("cannot write {}: {e}", tr_path.display()))?;

        let mut out = String::new();
        out.push_str(&format!("vouch tsa listening on {url}\n"));
        out.push_str(&format!("timestamp URL: {url}/api/v1/timestamp\n"));
        out.push_str(&format!("policy: {}\n", svc.policy()));
        out.push_str(&format!("key: {}\n", svc.key_algorithm().name()));
        out.push_str(&format!(
            "trusted root timestampAuthorities entry: {} (uri {public_url}, valid from {})\n",
            tr_path.display(),
            svc.valid_from()
        ));
        out.push_str(&format!(
            "certificate chain (leaf first, also in {}):\n{}",
            a.data.join(vouch_tsa::CHAIN_FILE).display(),
            svc.chain_pem()
        ));
        print!("{out}");
        {
            use std::io::Write;
            let _ = std::io::stdout().flush();
        }
        tracing::info!(%url, policy = %svc.policy(), key = svc.key_algorithm().name(), "tsa server started");

        // In-flight requests get the bootstrap's shutdown grace (10 s) after the signal.
        server.serve(vouch_tsa::router(svc.clone()), shutdown_signal()).await;
        Ok::<_, anyhow::Error>(())
    })?;
    rt.shutdown_timeout(Duration::from_secs(5));
    Ok(())
}

/// Request encoding used by `vouch bench tsa`.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum BenchFormat {
    /// DER `TimeStampReq` (`application/timestamp-query`), as sigstore-go and openssl send.
    Der,
    /// The JSON form of sigstore/timestamp-authority.
    Json,
}

/// `vouch bench tsa`.
#[derive(Args, Debug)]
pub struct BenchTsaArgs {
    /// Base URL of the TSA (loopback only: this is a load generator).
    #[arg(long)]
    pub url: String,
    /// Concurrent clients, each sending requests back to back.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub clients: u32,
    /// How long to send requests, e.g. 30s.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Distinct requests (random imprints and nonces) pre-generated and used in turn.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub requests: u32,
    /// Request encoding.
    #[arg(long, value_enum, default_value = "der")]
    pub format: BenchFormat,
    /// Ask for the certificate chain in every token (`certReq`; sigstore-go does not).
    #[arg(long)]
    pub cert_req: bool,
    /// PID of the TSA under load (on this machine): also print its CPU time per timestamp and
    /// the efficiency against one P-256 signature.
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
}

/// One pre-generated request: its body and the data whose SHA-256 it timestamps.
struct Prepared {
    body: Vec<u8>,
    data: Vec<u8>,
}

fn prepare(n: u32, format: BenchFormat, cert_req: bool) -> Result<Vec<Prepared>> {
    let rng = SystemRandom::new();
    (0..n)
        .map(|_| {
            let mut data = vec![0u8; 64];
            let mut nonce = [0u8; 8];
            rng.fill(&mut data)
                .and_then(|()| rng.fill(&mut nonce))
                .map_err(|_| anyhow!("random generator failed"))?;
            let d = digest::digest(&digest::SHA256, &data);
            let body = match format {
                BenchFormat::Der => {
                    let mut req = TimestampRequest::new(HashAlgorithm::Sha256, d.as_ref().to_vec())
                        .map_err(|e| anyhow!("{e}"))?;
                    nonce[0] &= 0x7f;
                    nonce[0] |= 0x01;
                    req.nonce = Some(nonce.to_vec());
                    req.cert_req = cert_req;
                    req.to_der().map_err(|e| anyhow!("{e}"))?
                }
                BenchFormat::Json => {
                    let nonce = (u64::from_be_bytes(nonce) >> 1).to_string();
                    serde_json::to_vec(&vouch_tsa::JsonTimestampRequest {
                        artifact_hash: Some(vouch_core::encoding::b64_encode(d.as_ref())),
                        hash_algorithm: Some("sha256".into()),
                        nonce: Some(serde_json::value::RawValue::from_string(nonce)?),
                        certificates: Some(cert_req),
                        tsa_policy_oid: None,
                    })?
                }
            };
            Ok(Prepared { body, data })
        })
        .collect()
}

fn content_type(format: BenchFormat) -> &'static str {
    match format {
        BenchFormat::Der => vouch_tsa::TIMESTAMP_QUERY,
        BenchFormat::Json => "application/json",
    }
}

/// The TSA's base URL from either form users have: the base, or the timestamp endpoint exactly
/// as a signing config lists it (`…/api/v1/timestamp`).
fn tsa_base(url: &str) -> String {
    let url = url.trim_end_matches('/');
    url.strip_suffix("/api/v1/timestamp")
        .unwrap_or(url)
        .to_string()
}

/// Load a local TSA; print timestamps/s and latency percentiles.
pub fn bench(a: &BenchTsaArgs) -> Result<()> {
    let base = tsa_base(&check_local(
        &a.url,
        "tsa",
        "vouch serve tsa --data DIR --listen 127.0.0.1:3005",
    )?);
    let (rt, http) = crate::bench::load_runtime(a.clients)?;
    let url = format!("{base}/api/v1/timestamp");

    let t0 = Instant::now();
    let requests = prepare(a.requests, a.format, a.cert_req)?;
    let ct = content_type(a.format);

    // Preflight: fetch the chain and check one answer end to end before loading.
    rt.block_on(async {
        let chain_url = format!("{base}/api/v1/timestamp/certchain");
        let r = http.get(&chain_url).send().await.map_err(|e| {
            hinted(
                format!("cannot reach the TSA at {base}: {e}"),
                "start it with `vouch serve tsa` and pass its URL",
            )
        })?;
        if !r.status().is_success() {
            bail!("{chain_url}: HTTP {}", r.status());
        }
        let chain = vouch_tsa::parse_pem_chain(&r.text().await?)
            .map_err(|e| anyhow!("{chain_url}: {e}"))?;
        let verifier = vouch_core::tsa::TsaVerifier::new(&chain)
            .map_err(|e| anyhow!("{chain_url}: unusable TSA chain: {e}"))?;
        let first = requests
            .first()
            .ok_or_else(|| anyhow!("no request was generated"))?;
        let r = http
            .post(&url)
            .header("content-type", ct)
            .body(first.body.clone())
            .send()
            .await
            .map_err(|e| anyhow!("{url}: {e}"))?;
        let status = r.status();
        let body = r.bytes().await?;
        if status != reqwest::StatusCode::OK {
            bail!(
                "{url}: HTTP {status}: {}",
                String::from_utf8_lossy(&body).trim()
            );
        }
        verifier
            .verify(&body, &first.data)
            .map_err(|e| anyhow!("the TSA's answer does not verify: {e}"))?;
        Ok(())
    })?;
    eprintln!(
        "generated {} {:?} requests in {:.2} s (one answer verified against the served chain); requesting with {} clients for {:.1} s",
        a.requests,
        a.format,
        t0.elapsed().as_secs_f64(),
        a.clients,
        a.duration.as_secs_f64()
    );

    let bodies = requests.into_iter().map(|r| r.body).collect();
    let cpu = crate::bench::server_cpu(a.server_pid)?;
    let load = post_load(&rt, &http, &url, (bodies, ct), a.clients, a.duration);
    let (ok, errors, secs) = (load.ok, load.errors, load.secs);
    println!(
        "url={base} clients={} format={:?} cert_req={} requests={} duration_s={secs:.2}",
        a.clients, a.format, a.cert_req, a.requests
    );
    println!("timestamps={ok} errors={errors}");
    load.print_latencies();
    println!("timestamps_per_sec={:.0}", ok as f64 / secs);
    if let Some((cal, cpu)) = &cpu {
        // One timestamp is one signature (P-256, the default TSA key).
        crate::bench_cpu::print_efficiency(cal, cpu, ok, cal.p256_sign_us, "1 P-256 sign")?;
    }
    if ok == 0 {
        bail!("no timestamp was issued");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepared_requests_parse() {
        for format in [BenchFormat::Der, BenchFormat::Json] {
            let reqs = prepare(3, format, true).unwrap_or_default();
            assert_eq!(reqs.len(), 3);
            assert_ne!(reqs[0].body, reqs[1].body);
            let parsed = match format {
                BenchFormat::Der => TimestampRequest::from_der(&reqs[0].body),
                BenchFormat::Json => TimestampRequest::from_json(&reqs[0].body),
            };
            let parsed = parsed.ok();
            assert!(
                parsed
                    .as_ref()
                    .is_some_and(|p| p.cert_req && p.nonce.is_some())
            );
        }
    }
}

#[cfg(test)]
mod url_tests {
    #[test]
    fn the_signing_config_url_and_the_base_url_name_the_same_tsa() {
        for u in [
            "http://127.0.0.1:3004",
            "http://127.0.0.1:3004/",
            "http://127.0.0.1:3004/api/v1/timestamp",
            "http://127.0.0.1:3004/api/v1/timestamp/",
        ] {
            assert_eq!(super::tsa_base(u), "http://127.0.0.1:3004", "{u}");
        }
    }
}
