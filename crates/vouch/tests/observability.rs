//! `vouch observability …` against real Prometheus tools (Debian `prometheus`, which ships
//! `promtool`, and `prometheus-pushgateway`): the generated rules pass `promtool check rules`;
//! every metric the dashboards and rules name is one the servers expose; and a Prometheus that
//! scrapes `vouch up` (and a Pushgateway the CLI pushes to with `--metrics-push`) during a
//! scripted workload of n signings, m verifications and one denied token returns those counts
//! through its HTTP API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::up::start_up;
use common::{free_port, try_get, vouch};
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

/// Every stderr line of `log` as a JSON object (panics on a line that is not one: with
/// `--log-format json` nothing else may reach the log stream).
fn json_lines(log: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(log).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"));
            assert!(v.is_object(), "not a JSON object: {l}");
            for key in ["timestamp", "level", "target"] {
                assert!(v.get(key).is_some(), "log line without {key}: {l}");
            }
            v
        })
        .collect()
}

/// The access events (`--log-requests`) among `lines`: (service, path, status, trace_id,
/// parent_span_id).
fn access_events(lines: &[serde_json::Value]) -> Vec<(String, String, u64, String, String)> {
    lines
        .iter()
        .filter(|v| v["target"] == "vouch::access")
        .map(|v| {
            let span = &v["span"];
            let s = |k: &str| span[k].as_str().unwrap_or_default().to_string();
            assert!(
                v["latency_ms"].as_f64().is_some(),
                "access line without a numeric latency_ms: {v}"
            );
            (
                s("service"),
                s("path"),
                v["status"].as_u64().unwrap_or(0),
                s("trace_id"),
                s("parent_span_id"),
            )
        })
        .collect()
}

/// Sign a blob in `dir` against `inst` with `env` (the trace context) and assert success.
fn sign_traced(inst: &common::up::Instance, dir: &Path, env: &[(&str, &str)]) {
    let token = inst.token("dev@example.com");
    let blob = dir.join("blob.txt");
    std::fs::write(&blob, b"traced release\n").unwrap();
    let out = common::run_within(
        vouch()
            .arg("sign-blob")
            .arg(&blob)
            .arg("--bundle")
            .arg(dir.join("blob.sigstore.json"))
            .args(["--identity-token", &token, "-y", "--trust-config"])
            .arg(&inst.trust_config)
            .envs(env.iter().copied()),
        Duration::from_secs(60),
    );
    common::ok_stdout(&out, "sign-blob");
}

#[test]
fn json_logs_follow_one_signing_across_services() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("up.log");
    let inst = common::up::start_up_with(
        &tmp.path().join("data"),
        0,
        &log,
        &["--log-format", "json", "--log-requests"],
    );
    // The CI job's trace, handed to the CLI the way OpenTelemetry's environment carrier does.
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{trace}-00f067aa0ba902b7-01");
    sign_traced(&inst, tmp.path(), &[("TRACEPARENT", &traceparent)]);
    // A request without traceparent starts its own trace.
    let (code, _) = try_get(&inst.urls["log"], "/healthz").unwrap();
    assert_eq!(code, 200);
    std::thread::sleep(Duration::from_millis(300));

    let lines = json_lines(&log);
    let events = access_events(&lines);
    let traced: Vec<_> = events.iter().filter(|e| e.3 == trace).collect();
    let hit = |service: &str, path_part: &str| {
        traced
            .iter()
            .any(|e| e.0 == service && e.1.contains(path_part) && (200..300).contains(&e.2))
    };
    assert!(
        hit("ca", "/api/v2/signingCert"),
        "no CA request in trace {trace}: {traced:?}"
    );
    assert!(
        hit("tsa", "/api/v1/timestamp"),
        "no TSA request in trace {trace}: {traced:?}"
    );
    assert!(
        hit("log", "/log/entries"),
        "no log write in trace {trace}: {traced:?}"
    );
    // Each request is its own child span of the CLI's trace: distinct parent span IDs, none
    // of them the environment's own span ID.
    let parents: BTreeSet<&str> = traced.iter().map(|e| e.4.as_str()).collect();
    assert_eq!(parents.len(), traced.len(), "{traced:?}");
    for p in &parents {
        assert_eq!(p.len(), 16, "{traced:?}");
        assert_ne!(*p, "00f067aa0ba902b7");
    }
    let health: Vec<_> = events
        .iter()
        .filter(|e| e.0 == "log" && e.1 == "/healthz")
        .collect();
    assert_eq!(health.len(), 1, "{events:?}");
    assert_eq!(health[0].3.len(), 32);
    assert_ne!(health[0].3, trace);
    assert!(
        health[0].4.is_empty(),
        "a request without traceparent has no parent: {health:?}"
    );
    // Non-access events are JSON too and carry their message.
    assert!(
        lines
            .iter()
            .any(|v| v["target"] != "vouch::access" && v["message"].is_string()),
        "no ordinary log events in the JSON stream"
    );
}

#[test]
fn request_lines_are_off_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("up.log");
    let inst =
        common::up::start_up_with(&tmp.path().join("data"), 0, &log, &["--log-format", "json"]);
    for _ in 0..3 {
        let (code, _) = try_get(&inst.urls["log"], "/healthz").unwrap();
        assert_eq!(code, 200);
    }
    std::thread::sleep(Duration::from_millis(300));
    let lines = json_lines(&log);
    assert!(!lines.is_empty());
    assert!(
        access_events(&lines).is_empty(),
        "access lines without --log-requests"
    );
}

/// A running OTLP/HTTP receiver (tests/py/otlp_receiver.py) and the spans it decoded.
struct Receiver {
    child: Child,
    url: String,
    spans: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start the receiver with `$VOUCH_PYTHON`, or None (SKIP) when it or `opentelemetry-proto`
/// is missing.
fn otlp_receiver() -> Option<Receiver> {
    use std::io::BufRead;
    let Some(py) = std::env::var_os("VOUCH_PYTHON") else {
        vouch_testkit::skip("VOUCH_PYTHON is not set: no OTLP receiver (.ci/run sets it up)");
        return None;
    };
    let probe = Command::new(&py)
        .args([
            "-c",
            "import opentelemetry.proto.collector.trace.v1.trace_service_pb2",
        ])
        .output()
        .unwrap();
    if !probe.status.success() {
        vouch_testkit::skip("opentelemetry-proto is not installed in $VOUCH_PYTHON");
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/otlp_receiver.py");
    let mut child = Command::new(&py)
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let port = first.strip_prefix("listening ").unwrap().trim().to_string();
    let spans = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = spans.clone();
    std::thread::spawn(move || {
        for line in lines {
            let Ok(line) = line else { break };
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            sink.lock().unwrap().push(v);
        }
    });
    Some(Receiver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        spans,
    })
}

#[test]
fn otlp_traces_join_the_cli_and_every_service() {
    let Some(rx) = otlp_receiver() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("up.log");
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", rx.url.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
    ];
    let inst = common::up::start_up_env(None, &tmp.path().join("data"), 0, &log, &[], &otel);
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let ci_span = "b7ad6b7169203331";
    let traceparent = format!("00-{trace}-{ci_span}-01");
    let mut env = otel.to_vec();
    env.push(("TRACEPARENT", &traceparent));
    sign_traced(&inst, tmp.path(), &env);

    // The CLI flushes at exit; the servers export within their batch delay.
    let want = ["/api/v2/signingCert", "/api/v1/timestamp", "/log/entries"];
    let deadline = Instant::now() + Duration::from_secs(30);
    let (cli, server) = loop {
        let spans = rx.spans.lock().unwrap().clone();
        assert!(
            spans.iter().all(|s| s.get("decode_error").is_none()),
            "the receiver could not decode an export: {spans:?}"
        );
        let cli: Vec<_> = spans
            .iter()
            .filter(|s| s["name"] == "vouch sign-blob")
            .cloned()
            .collect();
        let server: Vec<_> = spans
            .iter()
            .filter(|s| s["trace_id"] == trace && s["kind"] == 2)
            .cloned()
            .collect();
        let complete = want.iter().all(|w| {
            server
                .iter()
                .any(|s| s["name"].as_str().unwrap_or_default().contains(w))
        });
        if cli.len() == 1 && complete {
            break (cli[0].clone(), server);
        }
        assert!(
            Instant::now() < deadline,
            "spans of trace {trace} incomplete after 30 s: {spans:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // The CLI's span continues the CI job's trace, and is the parent of every server span.
    assert_eq!(cli["trace_id"], trace, "{cli}");
    assert_eq!(cli["parent_span_id"], ci_span, "{cli}");
    assert_eq!(cli["service"], "vouch");
    for s in &server {
        assert_eq!(s["parent_span_id"], cli["span_id"], "{s}");
    }
    for (path, service) in [
        ("/api/v2/signingCert", "ca"),
        ("/api/v1/timestamp", "tsa"),
        ("/log/entries", "log"),
    ] {
        let s = server
            .iter()
            .find(|s| s["name"].as_str().unwrap_or_default().contains(path))
            .unwrap();
        assert_eq!(s["attributes"]["service"], service, "{s}");
        // Recorded after the span started, the exporter carries it as an int or its text.
        let attr = &s["attributes"]["http.response.status_code"];
        let code = attr
            .as_i64()
            .or_else(|| attr.as_str().and_then(|t| t.parse().ok()));
        assert!(
            code.is_some_and(|c| (200..300).contains(&c)),
            "{path}: status {code:?} in {s}"
        );
    }
}
