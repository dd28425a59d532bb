//! `vouch observability …` against real Prometheus tools (Debian `prometheus`, which ships
//! `promtool`, and `prometheus-pushgateway`): the generated rules pass `promtool check rules`;
//! every metric the dashboards and rules name is one the servers expose; and a Prometheus that
//! scrapes `vouch up` (and a Pushgateway the CLI pushes to with `--metrics-push`) during a
//! scripted workload of n signings, m verifications and one denied token returns those counts
//! through its HTTP API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::up::start_up;
use common::{try_get, vouch};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn run_ok(cmd: &mut Command) -> String {
    let o: Output = cmd.output().unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    );
    assert!(o.status.success(), "{cmd:?}:\n{out}\n{err}");
    out
}

fn have(bin: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Sample names a registry exposes, from its `# TYPE` lines (OpenMetrics suffixes added).
fn exposed(text: &str, out: &mut BTreeSet<String>) {
    for l in text.lines() {
        let Some(rest) = l.strip_prefix("# TYPE ") else {
            continue;
        };
        let mut it = rest.split_whitespace();
        let (Some(name), Some(kind)) = (it.next(), it.next()) else {
            continue;
        };
        match kind {
            "counter" => {
                out.insert(format!("{name}_total"));
            }
            "histogram" => {
                for s in ["_bucket", "_sum", "_count"] {
                    out.insert(format!("{name}{s}"));
                }
            }
            _ => {
                out.insert(name.to_string());
            }
        }
    }
}

fn referenced() -> Vec<String> {
    run_ok(vouch().args(["observability", "metrics"]))
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn rules_pass_promtool_and_dashboards_name_exposed_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_ok(
        vouch()
            .args(["observability", "rules", "--out"])
            .arg(tmp.path().join("prometheus")),
    );
    let rules_file = tmp.path().join("prometheus/vouch-slo.rules.yml");
    assert_eq!(out.trim(), rules_file.display().to_string());
    let out = run_ok(
        vouch()
            .args(["observability", "dashboards", "--out"])
            .arg(tmp.path().join("grafana")),
    );
    assert_eq!(out.lines().count(), 3, "{out}");
    for d in ["vouch-executive", "vouch-on-call", "vouch-debug"] {
        let v: serde_json::Value = serde_json::from_slice(
            &std::fs::read(tmp.path().join(format!("grafana/{d}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(v["uid"], d);
        let panels = v["panels"].as_array().unwrap();
        assert!(panels.len() >= 4, "{d}");
        assert!(panels.iter().all(|p| {
            !p["targets"][0]["expr"]
                .as_str()
                .unwrap_or_default()
                .is_empty()
        }));
    }

    // Every name referenced is exposed by a server's registry, pushed by the CLI, a series the
    // rules record, or Prometheus's own `up`.
    // (A labelled family appears once it has a sample: give each one.)
    let mut names = BTreeSet::new();
    let log = vouch_log::metrics::Metrics::new();
    log.rejected("invalid");
    exposed(&log.encode(), &mut names);
    let ca = vouch_ca::api::Metrics::new();
    ca.reject("signature");
    exposed(&ca.encode(), &mut names);
    let tsa = vouch_tsa::Metrics::new();
    tsa.requests
        .get_or_create(&vouch_tsa::Outcome {
            outcome: "issued".into(),
            format: "der".into(),
        })
        .inc();
    exposed(&tsa.encode(), &mut names);
    exposed(&vouch_witness::api::Metrics::new().encode(), &mut names);
    let adm = vouch_admission::metrics::Metrics::new();
    adm.decisions
        .get_or_create(&vouch_admission::metrics::DecisionLabel {
            verdict: "deny".into(),
            policy: "p".into(),
            reason: "r".into(),
        })
        .inc();
    adm.latency
        .get_or_create(&vouch_admission::metrics::LatencyLabel {
            endpoint: "validate".into(),
            cache: "hit".into(),
        })
        .observe(0.01);
    exposed(&adm.encode(), &mut names);
    let proxy = vouch_proxy::metrics::Metrics::new();
    proxy.lookup("tile", true);
    proxy.proof("tlog-proof", 0.001);
    proxy.upstream_error("tile");
    exposed(&proxy.encode(), &mut names);
    names.insert("vouch_cli_signings_total".into());
    names.insert("vouch_cli_verifications_total".into());
    names.insert("up".into());
    let rules: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&rules_file).unwrap()).unwrap();
    for g in rules["groups"].as_array().unwrap() {
        for r in g["rules"].as_array().unwrap() {
            if let Some(rec) = r["record"].as_str() {
                names.insert(rec.to_string());
            }
        }
    }
    let refs = referenced();
    assert!(refs.len() > 15, "{refs:?}");
    for r in &refs {
        assert!(
            names.contains(r),
            "{r} is referenced but no server exposes it; exposed: {names:?}"
        );
    }

    if !have("promtool") {
        vouch_testkit::skip(format_args!(
            "promtool is not installed (Debian package prometheus)"
        ));
        return;
    }
    let o = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules_file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "promtool check rules:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn hostport(url: &str) -> String {
    let rest = url.trim_start_matches("http://");
    rest.split('/').next().unwrap_or(rest).to_string()
}

fn wait_ready(url: &str, path: &str, what: &str, log: Option<&Path>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = try_get(url, path);
        if matches!(r, Ok((200, _))) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} at {url} never answered {path}: {r:?}\n{}",
            log.map(|l| std::fs::read_to_string(l).unwrap_or_default())
                .unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Run a PromQL instant query; the value of its single sample, if any.
fn query(prom: &str, q: &str) -> Option<f64> {
    let enc: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
    let (status, body) = try_get(prom, &format!("/api/v1/query?query={enc}")).ok()?;
    assert_eq!(status, 200, "{q}: {}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let r = v["data"]["result"].as_array()?;
    r.first()?["value"][1].as_str()?.parse().ok()
}

/// Wait until `q` evaluates to `want`, then return it (or panic with the last value).
fn eventually(prom: &str, q: &str, want: f64) {
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut last = None;
    while Instant::now() < deadline {
        last = query(prom, q);
        if last == Some(want) {
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("PromQL {q}: expected {want}, got {last:?}");
}

#[test]
fn prometheus_scrapes_a_workload_on_vouch_up() {
    for bin in ["prometheus", "prometheus-pushgateway"] {
        if !have(bin) {
            vouch_testkit::skip(format_args!(
                "{bin} is not installed (Debian packages prometheus, prometheus-pushgateway)"
            ));
            return;
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("up");
    let inst = start_up(&data, 0, &tmp.path().join("up.log"));

    let gw_port = free_port();
    let gw = format!("http://127.0.0.1:{gw_port}");
    let _gw = Killed(
        Command::new("prometheus-pushgateway")
            .arg(format!("--web.listen-address=127.0.0.1:{gw_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_ready(&gw, "/-/ready", "pushgateway", None);

    run_ok(
        vouch()
            .args(["observability", "rules", "--out"])
            .arg(tmp.path()),
    );
    let prom_port = free_port();
    let prom = format!("http://127.0.0.1:{prom_port}");
    let mut cfg = String::from(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - vouch-slo.rules.yml\nscrape_configs:\n",
    );
    for (job, key) in [
        ("vouch-log", "log"),
        ("vouch-ca", "ca"),
        ("vouch-tsa", "tsa"),
        ("vouch-ct", "ct"),
    ] {
        cfg.push_str(&format!(
            "  - job_name: {job}\n    static_configs:\n      - targets: ['{}']\n",
            hostport(&inst.urls[key])
        ));
    }
    cfg.push_str(&format!(
        "  - job_name: pushgateway\n    honor_labels: true\n    static_configs:\n      - targets: ['127.0.0.1:{gw_port}']\n"
    ));
    let cfg_path = tmp.path().join("prometheus.yml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let _prom = Killed(
        Command::new("prometheus")
            .arg(format!("--config.file={}", cfg_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                tmp.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(tmp.path().join("prometheus.log")).unwrap(),
            ))
            .spawn()
            .unwrap(),
    );
    wait_ready(
        &prom,
        "/-/ready",
        "prometheus",
        Some(&tmp.path().join("prometheus.log")),
    );
    eventually(&prom, r#"sum(up{job=~"vouch-.*"})"#, 4.0);

    // The workload: n signings, m verifications, one denied token.
    let (n, m) = (3u32, 2u32);
    let token = run_ok(vouch().args([
        "oidc",
        "token",
        "--url",
        &inst.urls["oidc"],
        "--email",
        "ci@example.com",
    ]))
    .trim()
    .to_string();
    let blob = tmp.path().join("blob.txt");
    std::fs::write(&blob, b"release 1.0\n").unwrap();
    let sign = |bundle: &Path, token: &str| {
        vouch()
            .arg("sign-blob")
            .arg(&blob)
            .arg("--bundle")
            .arg(bundle)
            .args(["--identity-token", token, "-y", "--metrics-push", &gw])
            .arg("--trust-config")
            .arg(&inst.trust_config)
            .output()
            .unwrap()
    };
    for i in 0..n {
        let o = sign(&tmp.path().join(format!("b{i}.sigstore.json")), &token);
        assert!(
            o.status.success(),
            "sign {i}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // A token whose signature was altered: the CA refuses it.
    let mut denied = token.clone();
    let last = denied.pop().unwrap();
    denied.push(if last == 'A' { 'B' } else { 'A' });
    let o = sign(&tmp.path().join("denied.sigstore.json"), &denied);
    assert!(!o.status.success(), "a tampered token was accepted");
    for i in 0..m {
        run_ok(
            vouch()
                .arg("verify-blob")
                .arg(&blob)
                .arg("--bundle")
                .arg(tmp.path().join(format!("b{i}.sigstore.json")))
                .args([
                    "--certificate-identity",
                    "ci@example.com",
                    "--certificate-oidc-issuer",
                    &inst.urls["oidc"],
                    "--metrics-push",
                    &gw,
                    "--trusted-root",
                ])
                .arg(data.join("trusted_root.json")),
        );
    }

    // What Prometheus saw, through its HTTP API.
    let n = f64::from(n);
    let m = f64::from(m);
    eventually(&prom, "sum(vouch_ca_certificates_issued_total)", n);
    eventually(&prom, "sum(vouch_ca_rejected_requests_total)", 1.0);
    eventually(
        &prom,
        r#"sum(vouch_cli_signings_total{outcome="success"})"#,
        n,
    );
    eventually(
        &prom,
        r#"sum(vouch_cli_signings_total{outcome="failure"})"#,
        1.0,
    );
    eventually(
        &prom,
        r#"sum(vouch_cli_verifications_total{outcome="success"})"#,
        m,
    );
    eventually(
        &prom,
        "sum(vouch_ca_issuance_duration_seconds_count)",
        n + 1.0,
    );
    eventually(
        &prom,
        r#"sum(vouch_log_inclusion_duration_seconds_count{job="vouch-log"})"#,
        n,
    );
    eventually(
        &prom,
        "(max(vouch_ca_certificate_ttl_seconds) > bool 0) * (max(vouch_ca_certificate_ttl_seconds) <= bool 1200)",
        1.0,
    );
    // The recording rules evaluate over the scraped series.
    eventually(
        &prom,
        r#"vouch:slo_error_ratio:rate5m{slo="log_availability"}"#,
        0.0,
    );
    eventually(
        &prom,
        r#"vouch:slo_error_ratio:rate5m{slo="signing_success"}"#,
        0.0,
    );
    // Every name the dashboards use that a running service exposes is in Prometheus.
    let (status, body) = try_get(&prom, "/api/v1/label/__name__/values").unwrap();
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let scraped: BTreeSet<String> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect();
    for name in [
        "vouch_ca_rejected_requests_total",
        "vouch_log_inclusion_duration_seconds_bucket",
        "vouch_tsa_timestamp_request_duration_seconds_bucket",
        "vouch_cli_verifications_total",
    ] {
        assert!(scraped.contains(name), "{name} not scraped: {scraped:?}");
    }
}
