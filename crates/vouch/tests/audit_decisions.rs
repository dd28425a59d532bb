//! `vouch audit decisions` over the decision log of a real webhook: `vouch admission serve
//! --decision-log` driven over HTTPS with AdmissionReview v1 (as the API server does) for
//! images signed keyless, unsigned, under a warn-mode policy, waived by a signed exception in
//! one namespace only, and matched by no policy; a second exception expires before the audit.
//! The exact counts by verdict, deploy, policy, reason, namespace and exception state are
//! asserted in JSON, and the table and HTML renderings are checked. A decision log that cannot
//! be written (replaced by a directory, then pointing at /dev/full) denies the review it could
//! not record, fail closed, and the webhook allows again once the log is writable.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::admission::{ApiServer, certificates, start_webhook};
use common::registry::{push_image, registry_and_up};
use common::up::oidc_token;
use common::{counter, ok_stdout as ok, vouch};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube_core::admission::Operation;
use std::process::Stdio;
use std::time::Duration;
use vouch_admission::review::request_review;
use vouch_admission::workload::WorkloadKind;

fn pod(images: &[&str]) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("web".into()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: images
                .iter()
                .enumerate()
                .map(|(i, im)| Container {
                    name: format!("c{i}"),
                    image: Some(im.to_string()),
                    ..Container::default()
                })
                .collect(),
            ..PodSpec::default()
        }),
        status: None,
    }
}

fn cip(name: &str, glob: &str, mode: &str, oidc: &str) -> String {
    common::cip(
        name,
        glob,
        mode,
        &format!(
            "  - keyless:\n      url: https://ca.invalid\n      identities:\n      - issuer: {oidc}\n        subject: alice@example.com\n"
        ),
    )
}

#[test]
fn audit_admission_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let Some((registry, inst)) = registry_and_up("audit decisions", d) else {
        return;
    };
    let tc = inst.trust_config.to_str().unwrap().to_string();
    let oidc = inst.urls["oidc"].clone();
    let addr = registry.addr.clone();
    let image = |repo: &str| {
        let digest = push_image(&addr, repo, "v1", repo.as_bytes());
        format!("{addr}/{repo}@{digest}")
    };
    let good = image("rel/good");
    let bad = image("rel/bad");
    let warned = image("lenient/x");
    let hotfix = image("rel/hotfix");
    let other = image("other/z");
    let alice = oidc_token(&oidc, "alice@example.com");
    ok(
        &vouch()
            .args(["sign", &good, "-y", "--identity-token", &alice])
            .args(["--trust-config", &tc])
            .stdin(Stdio::null())
            .output()
            .unwrap(),
        "sign",
    );
    let policies = d.join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(
        policies.join("release.yaml"),
        cip("release", &format!("{addr}/rel/**"), "", &oidc),
    )
    .unwrap();
    std::fs::write(
        policies.join("lenient.yaml"),
        cip(
            "lenient",
            &format!("{addr}/lenient/**"),
            "  mode: warn\n",
            &oidc,
        ),
    )
    .unwrap();
    // Two exceptions approved by lead@example.com: the hotfix in prod (open), and one that
    // expires before the audit runs (never used).
    let exceptions = d.join("exceptions");
    let grant = |name: &str, image: &str, expires: &str| {
        let lead = oidc_token(&oidc, "lead@example.com");
        ok(
            &vouch()
                .args(["exception", "grant", "--image", image])
                .args(["--namespace", "prod", "--policy", "release"])
                .args(["--reason", "hotfix", "--ticket", name, "--expires", expires])
                .args(["-y", "--identity-token", &lead, "--trust-config", &tc])
                .arg("--out")
                .arg(exceptions.join(format!("{name}.sigstore.json")))
                .stdin(Stdio::null())
                .output()
                .unwrap(),
            "exception grant",
        );
    };
    grant("CHG-1", &format!("{addr}/rel/hotfix*"), "72h");
    grant("CHG-2", &format!("{addr}/legacy/**"), "4s");
    let approver = [
        "--exceptions",
        exceptions.to_str().unwrap(),
        "--approver-identity",
        "lead@example.com",
        "--approver-oidc-issuer",
        &oidc,
    ];
    let certs = certificates(d);
    let log = d.join("decisions.jsonl");
    let w = start_webhook(
        d,
        "webhook",
        &policies,
        &certs,
        &inst.trust_config,
        &[&approver[..], &["--decision-log", log.to_str().unwrap()]].concat(),
    );
    let api = ApiServer::new(&std::fs::read(&certs.0).unwrap(), w.port);
    let admit = |uid: &str, ns: &str, images: &[&str]| {
        let body = request_review(
            uid,
            WorkloadKind::Pod,
            Operation::Create,
            ns,
            &pod(images),
            None,
            None,
        )
        .unwrap();
        api.review(w.port, "/validate", uid, body).allowed
    };
    assert!(admit("r1", "prod", &[&good]));
    assert!(!admit("r2", "prod", &[&good, &bad]));
    assert!(admit("r3", "prod", &[&warned]));
    assert!(admit("r4", "prod", &[&hotfix]));
    assert!(!admit("r5", "dev", &[&hotfix]), "the exception is for prod");
    assert!(!admit("r6", "prod", &[&other]), "no policy matches");
    assert!(admit("r7", "prod", &[&good]));
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 8, "{text}");
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["requestUid"], "r1");
    assert_eq!(first["resource"], "Pod/web");
    assert_eq!(first["namespace"], "prod");
    assert_eq!(first["reason"], "verified");
    assert_eq!(first["digest"], good.rsplit('@').next().unwrap());
    let excepted: serde_json::Value = serde_json::from_str(
        text.lines()
            .find(|l| l.contains("\"requestUid\":\"r4\""))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(excepted["exceptionsUsed"][0]["ticket"], "CHG-1");
    assert!(excepted["exceptionsUsed"][0]["expires"].as_str().unwrap() > "2026");
    drop(w);
    // A line that is not a record is counted, not fatal.
    std::fs::write(&log, format!("{text}not a record\n")).unwrap();
    std::thread::sleep(Duration::from_secs(4));

    let audit = |extra: &[&str]| {
        let out = vouch()
            .current_dir(d)
            .args(["audit", "decisions", "--admission-log", "decisions.jsonl"])
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        ok(&out, "audit decisions")
    };
    let json: serde_json::Value = serde_json::from_str(&audit(
        &[&["-o", "json", "--trust-config", &tc][..], &approver[..]].concat(),
    ))
    .unwrap();
    let counts = |v: &serde_json::Value| {
        (
            v["total"].as_u64().unwrap(),
            v["allow"].as_u64().unwrap(),
            v["warn"].as_u64().unwrap(),
            v["deny"].as_u64().unwrap(),
        )
    };
    assert_eq!(json["skipped_lines"], 1);
    assert_eq!(counts(&json["decisions"]), (8, 3, 2, 3), "{json}");
    assert_eq!(counts(&json["deploys"]), (7, 2, 2, 3));
    let p = &json["by_policy"];
    assert_eq!(counts(&p["release"]), (6, 3, 1, 2), "{p}");
    assert_eq!(counts(&p["lenient"]), (1, 0, 1, 0));
    assert_eq!(counts(&p["(no policy)"]), (1, 0, 0, 1));
    assert_eq!(
        counts(&p["release"]["by_reason"]["policy-failed"]),
        (2, 0, 0, 2)
    );
    assert_eq!(
        counts(&p["release"]["by_reason"]["exception"]),
        (1, 0, 1, 0)
    );
    let r = &json["by_reason"];
    assert_eq!(counts(&r["verified"]), (3, 3, 0, 0), "{r}");
    assert_eq!(counts(&r["warn-mode"]), (1, 0, 1, 0));
    assert_eq!(counts(&r["no-match"]), (1, 0, 0, 1));
    assert_eq!(counts(&json["by_namespace"]["prod"]), (7, 3, 2, 2));
    assert_eq!(counts(&json["by_namespace"]["dev"]), (1, 0, 0, 1));
    let over_time = json["over_time"].as_object().unwrap();
    let total: u64 = over_time
        .values()
        .map(|v| v["total"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 8);
    let t = &json["exception_totals"];
    assert_eq!(
        (t["open"].as_u64(), t["expired"].as_u64()),
        (Some(1), Some(1)),
        "{t}"
    );
    assert_eq!(
        (t["used"].as_u64(), t["unused"].as_u64()),
        (Some(1), Some(1))
    );
    let exc = json["exceptions"].as_array().unwrap();
    let chg1 = exc.iter().find(|e| e["ticket"] == "CHG-1").unwrap();
    assert_eq!(chg1["state"], "open");
    assert_eq!(chg1["uses"], 1);
    assert_eq!(chg1["policies"][0], "release");
    assert!(chg1["age_seconds"].as_i64().unwrap() >= 0);
    let chg2 = exc.iter().find(|e| e["ticket"] == "CHG-2").unwrap();
    assert_eq!(
        (chg2["state"].as_str(), chg2["uses"].as_u64()),
        (Some("expired"), Some(0))
    );
    assert!(chg2["open_seconds"].as_i64().unwrap() <= 5, "{chg2}");

    // Without --exceptions only the exceptions the log names are reported.
    let table = audit(&[]);
    assert!(
        table.contains("8 decisions: 3 allowed, 2 warned, 3 denied"),
        "{table}"
    );
    assert!(table.contains("deploys: 7 reviews: 2 allowed, 2 warned, 3 denied"));
    assert!(table.contains("EXCEPTIONS: 1 open, 0 expired"), "{table}");
    audit(&["-o", "html", "--out", "decisions.html"]);
    let html = std::fs::read_to_string(d.join("decisions.html")).unwrap();
    assert!(html.contains("Decisions by policy") && html.contains("<svg"));
    assert!(
        !html.contains("<script") && !html.contains(" src="),
        "self-contained"
    );
}

#[test]
fn decision_log_write_failure_denies() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let Some((registry, inst)) = registry_and_up("decision log failure", d) else {
        return;
    };
    let tc = inst.trust_config.to_str().unwrap().to_string();
    let oidc = inst.urls["oidc"].clone();
    let digest = push_image(&registry.addr, "rel/good", "v1", b"good");
    let good = format!("{}/rel/good@{digest}", registry.addr);
    let alice = oidc_token(&oidc, "alice@example.com");
    ok(
        &vouch()
            .args(["sign", &good, "-y", "--identity-token", &alice])
            .args(["--trust-config", &tc])
            .stdin(Stdio::null())
            .output()
            .unwrap(),
        "sign",
    );
    let policies = d.join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(
        policies.join("release.yaml"),
        cip("release", &format!("{}/rel/**", registry.addr), "", &oidc),
    )
    .unwrap();
    let certs = certificates(d);
    let log = d.join("logs").join("decisions.jsonl");
    let w = start_webhook(
        d,
        "webhook",
        &policies,
        &certs,
        &inst.trust_config,
        &["--decision-log", log.to_str().unwrap()],
    );
    let api = ApiServer::new(&std::fs::read(&certs.0).unwrap(), w.port);
    let admit = |uid: &str| {
        let body = request_review(
            uid,
            WorkloadKind::Pod,
            Operation::Create,
            "prod",
            &pod(&[&good]),
            None,
            None,
        )
        .unwrap();
        api.review(w.port, "/validate", uid, body)
    };
    let r = admit("ok-1");
    assert!(r.allowed, "{:?}", r.result);
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 1);
    let failures = "vouch_admission_decision_log_failures_total";
    assert_eq!(counter(&api.get(w.port, "/metrics"), failures), 0.0);

    // The log replaced by a directory mid-run (as root, permissions would not stop a write):
    // the verified, cached allow is not given without its record.
    std::fs::remove_file(&log).unwrap();
    std::fs::create_dir(&log).unwrap();
    let r = admit("no-log-1");
    assert!(!r.allowed, "allowed without a decision log record");
    let want = format!(
        "decision log write failed: cannot write {}: Is a directory (os error 21); denying (fail closed)",
        log.display()
    );
    assert_eq!(r.result.message, want);
    assert_eq!(r.result.code, 403);
    assert_eq!(counter(&api.get(w.port, "/metrics"), failures), 1.0);

    // A full disk: the log is a link to /dev/full, writes fail with ENOSPC.
    std::fs::remove_dir(&log).unwrap();
    std::os::unix::fs::symlink("/dev/full", &log).unwrap();
    let r = admit("no-log-2");
    assert!(!r.allowed);
    assert!(
        r.result
            .message
            .contains("No space left on device (os error 28); denying (fail closed)"),
        "{}",
        r.result.message
    );
    assert_eq!(counter(&api.get(w.port, "/metrics"), failures), 2.0);

    // Writable again: allowed and recorded.
    std::fs::remove_file(&log).unwrap();
    let r = admit("ok-2");
    assert!(r.allowed, "{:?}", r.result);
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("\"requestUid\":\"ok-2\""), "{text}");
    let server_log = std::fs::read_to_string(&w.log).unwrap();
    assert!(
        server_log.contains("decision log write failed: denying the review"),
        "{server_log}"
    );
}
