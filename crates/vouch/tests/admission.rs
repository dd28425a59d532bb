//! The admission webhook end to end, as the Kubernetes API server drives it (no API server
//! runs here): a test CA issues the serving certificate for
//! `vouch-admission.vouch-system.svc`; `vouch admission manifests` embeds the CA as caBundle;
//! the test takes caBundle from the generated ValidatingWebhookConfiguration and POSTs real
//! AdmissionReview v1 documents (`Content-Type: application/json`) over HTTPS, verifying the
//! server against caBundle with SNI `vouch-admission.vouch-system.svc` resolved to 127.0.0.1,
//! and checks that the same `uid` comes back.
//!
//! The engine is the real one (vouch-policy, ClusterImagePolicies in policy-controller's
//! format); images live in Debian's `docker-registry`, signed keyless against `vouch up` and
//! with a key. Prints SKIP without `docker-registry`; fails instead under
//! `VOUCH_REQUIRE_PEERS=1`.
//!
//! Cases: digest; tag (mutate → JSON patch applied with `json-patch` → `tag@digest`, then
//! validate); every kind with `containers`, `initContainers`, `ephemeralContainers` and
//! `volumes[].image.reference`; one unsigned container in a multi-container pod; an unsigned
//! init container in a CronJob; a key-signed image; warn mode; no matching policy;
//! `vouch admission prefetch`; a signed exception (its namespace only); `--no-mutate` (digest in auditAnnotations); malformed JSON and a
//! 10 MB body (400, server stays up); the registry stopped with a warm cache (still allowed,
//! no registry request) and a cold cache (denied fast, naming the registry error); /metrics.
//! `--witness-policy`: an image signed on a `vouch up --witnesses 1` instance is admitted under
//! the instance's witness policy and denied under one requiring a witness that never cosigned.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::admission::{ApiServer, SERVICE_NAME, certificates, start_webhook};
use common::registry::{push_image, registry_and_up, registry_bin_or_skip, start_registry};
use common::up::{oidc_token, start_up_with};
use common::{cip, counter, ok_stdout as ok, vouch};
use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, Deployment, DeploymentSpec, ReplicaSet, ReplicaSetSpec, StatefulSet,
    StatefulSetSpec,
};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Container, EphemeralContainer, ImageVolumeSource, Pod, PodSpec, PodTemplateSpec,
    ReplicationController, ReplicationControllerSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube_core::admission::Operation;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use vouch_admission::manifests::Manifests;
use vouch_admission::review::request_review;
use vouch_admission::workload::WorkloadKind;

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().unwrap()
}

fn container(name: &str, image: &str) -> Container {
    Container {
        name: name.into(),
        image: Some(image.into()),
        ..Container::default()
    }
}

/// A pod spec with `image` in every image field.
fn full_spec(image: &str) -> PodSpec {
    PodSpec {
        containers: vec![container("app", image)],
        init_containers: Some(vec![container("init", image)]),
        ephemeral_containers: Some(vec![EphemeralContainer {
            name: "debug".into(),
            image: Some(image.into()),
            ..EphemeralContainer::default()
        }]),
        volumes: Some(vec![Volume {
            name: "data".into(),
            image: Some(ImageVolumeSource {
                reference: Some(image.into()),
                pull_policy: None,
            }),
            ..Volume::default()
        }]),
        ..PodSpec::default()
    }
}

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some("prod".into()),
        ..ObjectMeta::default()
    }
}

/// A typed object of `kind` around `spec`, as JSON.
fn workload(kind: WorkloadKind, spec: PodSpec) -> serde_json::Value {
    let template = PodTemplateSpec {
        metadata: None,
        spec: Some(spec.clone()),
    };
    let m = meta("w");
    let v = match kind {
        WorkloadKind::Pod => serde_json::to_value(Pod {
            metadata: m,
            spec: Some(spec),
            status: None,
        }),
        WorkloadKind::Deployment => serde_json::to_value(Deployment {
            metadata: m,
            spec: Some(DeploymentSpec {
                template,
                ..DeploymentSpec::default()
            }),
            status: None,
        }),
        WorkloadKind::ReplicaSet => serde_json::to_value(ReplicaSet {
            metadata: m,
            spec: Some(ReplicaSetSpec {
                template: Some(template),
                ..ReplicaSetSpec::default()
            }),
            status: None,
        }),
        WorkloadKind::StatefulSet => serde_json::to_value(StatefulSet {
            metadata: m,
            spec: Some(StatefulSetSpec {
                template,
                ..StatefulSetSpec::default()
            }),
            status: None,
        }),
        WorkloadKind::DaemonSet => serde_json::to_value(DaemonSet {
            metadata: m,
            spec: Some(DaemonSetSpec {
                template,
                ..DaemonSetSpec::default()
            }),
            status: None,
        }),
        WorkloadKind::Job => serde_json::to_value(Job {
            metadata: m,
            spec: Some(JobSpec {
                template,
                ..JobSpec::default()
            }),
            status: None,
        }),
        WorkloadKind::CronJob => serde_json::to_value(CronJob {
            metadata: m,
            spec: Some(CronJobSpec {
                schedule: "*/5 * * * *".into(),
                job_template: JobTemplateSpec {
                    metadata: None,
                    spec: Some(JobSpec {
                        template,
                        ..JobSpec::default()
                    }),
                },
                ..CronJobSpec::default()
            }),
            status: None,
        }),
        WorkloadKind::ReplicationController => serde_json::to_value(ReplicationController {
            metadata: m,
            spec: Some(ReplicationControllerSpec {
                template: Some(template),
                ..ReplicationControllerSpec::default()
            }),
            status: None,
        }),
    };
    v.unwrap()
}

fn review(uid: &str, kind: WorkloadKind, obj: &impl serde::Serialize) -> Vec<u8> {
    request_review(uid, kind, Operation::Create, "prod", obj, None, None).unwrap()
}

fn pod(images: &[&str]) -> Pod {
    Pod {
        metadata: meta("p"),
        spec: Some(PodSpec {
            containers: images
                .iter()
                .enumerate()
                .map(|(i, im)| container(&format!("c{i}"), im))
                .collect(),
            ..PodSpec::default()
        }),
        status: None,
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn webhook_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let Some((registry, inst)) = registry_and_up("webhook_end_to_end", d) else {
        return;
    };
    let tc = inst.trust_config.clone();
    let oidc = inst.urls["oidc"].clone();
    let addr = registry.addr.clone();
    let token = oidc_token(&oidc, "alice@example.com");

    // Images: signed keyless (app, cold, pre), unsigned, key-signed, warn-mode, unmatched.
    let digest = |repo: &str, content: &[u8]| push_image(&addr, repo, "v1", content);
    let app = digest("team/app", b"app");
    let cold = digest("team/cold", b"cold");
    let pre = digest("team/pre", b"pre");
    let unsigned = digest("team/unsigned", b"unsigned");
    let keyed = digest("keyed/app", b"keyed");
    let warned = digest("warn/app", b"warn");
    let other = digest("other/app", b"other");
    let by_digest = |repo: &str, d: &str| format!("{addr}/{repo}@{d}");
    for (repo, d) in [("team/app", &app), ("team/cold", &cold), ("team/pre", &pre)] {
        ok(
            &run(vouch()
                .arg("sign")
                .arg(by_digest(repo, d))
                .args(["-y", "--identity-token", &token, "--trust-config"])
                .arg(&tc)),
            "keyless sign",
        );
    }
    let keys = d.join("keys");
    common::cosign_key_pair(&keys);
    ok(
        &run(vouch()
            .arg("sign")
            .arg(by_digest("keyed/app", &keyed))
            .args(["-y", "--key"])
            .arg(keys.join("cosign.key"))
            .arg("--trust-config")
            .arg(&tc)
            .env("COSIGN_PASSWORD", "pw")),
        "key sign",
    );

    // Policies, in policy-controller's format.
    let alice = format!(
        "  - name: alice-keyless\n    keyless:\n      url: https://ca.invalid\n      identities:\n      - issuer: {oidc}\n        subject: alice@example.com\n"
    );
    let pem = std::fs::read_to_string(keys.join("cosign.pub")).unwrap();
    let key_auth = format!(
        "  - name: release-key\n    key:\n      data: |\n{}",
        pem.lines()
            .map(|l| format!("        {l}\n"))
            .collect::<String>()
    );
    let policies = d.join("policies");
    write(
        &policies.join("release.yaml"),
        &cip("release", &format!("{addr}/team/*"), "", &alice),
    );
    write(
        &policies.join("keyed.yaml"),
        &cip("keyed", &format!("{addr}/keyed/*"), "", &key_auth),
    );
    write(
        &policies.join("warn.yaml"),
        &cip(
            "warn-policy",
            &format!("{addr}/warn/*"),
            "  mode: warn\n",
            &alice,
        ),
    );

    // Certificates, manifests, caBundle from the generated webhook configuration.
    let certs = certificates(d);
    let yaml = ok(
        &run(vouch()
            .args([
                "admission",
                "manifests",
                "--namespace",
                "vouch-system",
                "--service",
                "vouch-admission",
                "--ca-bundle",
            ])
            .arg(&certs.0)),
        "admission manifests",
    );
    let manifests = Manifests::from_yaml(&yaml).unwrap();
    assert_eq!(manifests.crds.len(), 2);
    let hook = &manifests.validating.webhooks.as_ref().unwrap()[0];
    assert_eq!(hook.failure_policy.as_deref(), Some("Fail"));
    let svc = hook.client_config.service.as_ref().unwrap();
    assert_eq!(format!("{}.{}.svc", svc.name, svc.namespace), SERVICE_NAME);
    let ca_bundle = hook.client_config.ca_bundle.as_ref().unwrap().0.clone();
    assert_eq!(
        manifests.mutating.webhooks.as_ref().unwrap()[0]
            .client_config
            .ca_bundle
            .as_ref()
            .unwrap()
            .0,
        ca_bundle
    );

    let w = start_webhook(d, "webhook", &policies, &certs, &tc, &["--deadline", "5s"]);
    let api = ApiServer::new(&ca_bundle, w.port);
    let port = w.port;
    assert_eq!(api.get(port, "/healthz").trim(), "ok");

    // 1. By digest: allowed, same uid.
    let r = api.review(
        port,
        "/validate",
        "u-digest",
        review(
            "u-digest",
            WorkloadKind::Pod,
            &pod(&[&by_digest("team/app", &app)]),
        ),
    );
    assert!(r.allowed, "{r:?}\n{}", common::tail(&w.log));

    // 2. By tag: /mutate pins it (JSON patch applied as the API server does), /validate allows.
    let tagged = format!("{addr}/team/app:v1");
    let obj = workload(WorkloadKind::Deployment, full_spec(&tagged));
    let r = api.review(
        port,
        "/mutate",
        "u-mutate",
        review("u-mutate", WorkloadKind::Deployment, &obj),
    );
    assert!(r.allowed);
    let patch: json_patch::Patch = serde_json::from_slice(r.patch.as_deref().unwrap()).unwrap();
    assert_eq!(patch.0.len(), 4, "{patch:?}");
    let mut patched = obj.clone();
    json_patch::patch(&mut patched, &patch.0).unwrap();
    let dep: Deployment = serde_json::from_value(patched.clone()).unwrap();
    let ps = dep.spec.unwrap().template.spec.unwrap();
    let pinned = format!("{tagged}@{app}");
    assert_eq!(ps.containers[0].image.as_deref(), Some(pinned.as_str()));
    assert_eq!(
        ps.init_containers.unwrap()[0].image.as_deref(),
        Some(pinned.as_str())
    );
    assert_eq!(
        ps.ephemeral_containers.unwrap()[0].image.as_deref(),
        Some(pinned.as_str())
    );
    assert_eq!(
        ps.volumes.unwrap()[0]
            .image
            .as_ref()
            .unwrap()
            .reference
            .as_deref(),
        Some(pinned.as_str())
    );
    let r = api.review(
        port,
        "/validate",
        "u-patched",
        review("u-patched", WorkloadKind::Deployment, &patched),
    );
    assert!(r.allowed, "{r:?}");

    // 3. Every kind, every field, by digest and by tag.
    for kind in WorkloadKind::ALL {
        for image in [by_digest("team/app", &app), tagged.clone()] {
            let uid = format!("u-{}-{}", kind.kind(), image.len());
            let r = api.review(
                port,
                "/validate",
                &uid,
                review(&uid, kind, &workload(kind, full_spec(&image))),
            );
            assert!(r.allowed, "{kind:?} {image}: {r:?}");
        }
        // An unsigned image in any one field denies it.
        let mut spec = full_spec(&by_digest("team/app", &app));
        spec.init_containers = Some(vec![container(
            "init",
            &by_digest("team/unsigned", &unsigned),
        )]);
        let uid = format!("u-{}-unsigned", kind.kind());
        let r = api.review(
            port,
            "/validate",
            &uid,
            review(&uid, kind, &workload(kind, spec)),
        );
        assert!(!r.allowed, "{kind:?}");
        assert!(
            r.result.message.contains("initContainers[init]"),
            "{}",
            r.result.message
        );
    }

    // 4. One unsigned container in a multi-container pod: 403 naming image, policy, authority.
    let r = api.review(
        port,
        "/validate",
        "u-multi",
        review(
            "u-multi",
            WorkloadKind::Pod,
            &pod(&[
                &by_digest("team/app", &app),
                &by_digest("team/unsigned", &unsigned),
            ]),
        ),
    );
    assert!(!r.allowed);
    assert_eq!(r.result.code, 403);
    let msg = &r.result.message;
    eprintln!("deny message: {msg}");
    for needle in [
        "containers[c1]",
        &format!("team/unsigned@{unsigned}"),
        "release",
        "alice-keyless",
    ] {
        assert!(msg.contains(needle), "{needle:?} not in {msg}");
    }
    assert!(!msg.contains("containers[c0]"), "{msg}");

    // 5. Key-signed image under a key authority.
    let r = api.review(
        port,
        "/validate",
        "u-key",
        review(
            "u-key",
            WorkloadKind::Pod,
            &pod(&[&by_digest("keyed/app", &keyed)]),
        ),
    );
    assert!(r.allowed, "{r:?}");

    // 6. Warn mode: allowed with a warning.
    let r = api.review(
        port,
        "/validate",
        "u-warn",
        review(
            "u-warn",
            WorkloadKind::Pod,
            &pod(&[&by_digest("warn/app", &warned)]),
        ),
    );
    assert!(r.allowed, "{r:?}");
    let warnings = r.warnings.unwrap_or_default();
    assert!(
        warnings.iter().any(|w| w.contains("warn-policy")),
        "{warnings:?}"
    );

    // 7. No matching policy: denied (default --no-match-policy deny).
    let r = api.review(
        port,
        "/validate",
        "u-nomatch",
        review(
            "u-nomatch",
            WorkloadKind::Pod,
            &pod(&[&by_digest("other/app", &other)]),
        ),
    );
    assert!(!r.allowed);
    assert!(
        r.result.message.contains("no matching policies"),
        "{}",
        r.result.message
    );

    // 8. Prefetch from "CI", then the admission is a cache hit.
    let out = run(vouch()
        .args([
            "admission",
            "prefetch",
            "--url",
            &format!("https://127.0.0.1:{port}"),
            "--server-name",
            SERVICE_NAME,
            "--ca-bundle",
        ])
        .arg(&certs.0)
        .arg(format!("{addr}/team/pre:v1")));
    let printed = ok(&out, "admission prefetch");
    assert!(printed.contains("verified, passes"), "{printed}");
    let before = api.get(port, "/metrics");
    let r = api.review(
        port,
        "/validate",
        "u-pre",
        review(
            "u-pre",
            WorkloadKind::Pod,
            &pod(&[&by_digest("team/pre", &pre)]),
        ),
    );
    assert!(r.allowed);
    let after = api.get(port, "/metrics");
    assert_eq!(
        counter(&after, "vouch_admission_cache_hits_total")
            - counter(&before, "vouch_admission_cache_hits_total"),
        1.0
    );
    assert_eq!(
        counter(&after, "vouch_admission_cache_misses_total"),
        counter(&before, "vouch_admission_cache_misses_total")
    );

    // 9. --no-mutate: /validate resolves the tag and records the digest in auditAnnotations.
    let w2 = start_webhook(
        d,
        "webhook-no-mutate",
        &policies,
        &certs,
        &tc,
        &["--no-mutate"],
    );
    let api2 = ApiServer::new(&ca_bundle, w2.port);
    let r = api2.review(
        w2.port,
        "/mutate",
        "u-nm",
        review("u-nm", WorkloadKind::Pod, &pod(&[&tagged])),
    );
    assert!(r.allowed && r.patch.is_none());
    let r = api2.review(
        w2.port,
        "/validate",
        "u-nv",
        review("u-nv", WorkloadKind::Pod, &pod(&[&tagged])),
    );
    assert!(r.allowed, "{r:?}");
    assert!(
        r.audit_annotations
            .get("resolved-images")
            .is_some_and(|v| v.contains(&pinned)),
        "{:?}",
        r.audit_annotations
    );
    drop(w2);

    // 9b. A signed exception (approver lead@example.com) admits the unsigned image in `prod`
    //     only: allowed with a warning, an audit annotation and a metric.
    let lead = oidc_token(&oidc, "lead@example.com");
    let exceptions = d.join("exceptions");
    std::fs::create_dir_all(&exceptions).unwrap();
    ok(
        &run(vouch()
            .args(["exception", "grant", "--image"])
            .arg(format!("{addr}/team/unsigned*"))
            .args([
                "--namespace",
                "prod",
                "--policy",
                "release",
                "--reason",
                "vendor image",
                "--ticket",
                "CHG-1",
                "--expires",
                "1h",
                "-y",
                "--identity-token",
                &lead,
                "--out",
            ])
            .arg(exceptions.join("chg-1.sigstore.json"))
            .arg("--trust-config")
            .arg(&tc)),
        "exception grant",
    );
    let w3 = start_webhook(
        d,
        "webhook-exceptions",
        &policies,
        &certs,
        &tc,
        &[
            "--exceptions",
            exceptions.to_str().unwrap(),
            "--approver-identity",
            "lead@example.com",
            "--approver-oidc-issuer",
            &oidc,
        ],
    );
    let api3 = ApiServer::new(&ca_bundle, w3.port);
    let unsigned_pod = pod(&[&by_digest("team/unsigned", &unsigned)]);
    let r = api3.review(
        w3.port,
        "/validate",
        "u-exc",
        review("u-exc", WorkloadKind::Pod, &unsigned_pod),
    );
    assert!(r.allowed, "{r:?}");
    assert!(
        r.warnings
            .unwrap_or_default()
            .iter()
            .any(|w| w.contains("allowed by exception"))
    );
    assert!(
        r.audit_annotations
            .keys()
            .any(|k| k.starts_with("exception")),
        "{:?}",
        r.audit_annotations
    );
    let other_ns = request_review(
        "u-exc2",
        WorkloadKind::Pod,
        Operation::Create,
        "staging",
        &unsigned_pod,
        None,
        None,
    )
    .unwrap();
    let r = api3.review(w3.port, "/validate", "u-exc2", other_ns);
    assert!(!r.allowed, "the exception is for prod only: {r:?}");
    let m = api3.get(w3.port, "/metrics");
    assert!(
        m.contains("vouch_admission_exceptions_used_total{exception=\"exc-"),
        "{m}"
    );
    assert!(counter(&m, "vouch_admission_oldest_open_exception_age_seconds") >= 0.0);
    drop(w3);

    // 10. Malformed and oversized reviews: 400 with a JSON message; still serving.
    let (status, body) = api.post(
        port,
        "/validate",
        b"{\"kind\": \"AdmissionReview\", ".to_vec(),
    );
    assert_eq!(status, 400);
    let e: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(e["error"].as_str().unwrap().contains("malformed"), "{e}");
    let mut big = pod(&[&by_digest("team/app", &app)]);
    big.metadata.annotations = Some([("padding".to_string(), "x".repeat(10_000_000))].into());
    let (status, body) = api.post(port, "/validate", review("u-big", WorkloadKind::Pod, &big));
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("exceeds"));
    assert_eq!(api.get(port, "/healthz").trim(), "ok");

    // 11. Registry stopped: warm images still allowed without a registry request; a cold one
    //     is denied quickly with a named error.
    let metrics = api.get(port, "/metrics");
    let registry_before = counter(&metrics, "vouch_admission_registry_requests_total");
    drop(registry);
    let t = Instant::now();
    let r = api.review(
        port,
        "/validate",
        "u-warm",
        review(
            "u-warm",
            WorkloadKind::Pod,
            &pod(&[
                &by_digest("team/app", &app),
                &by_digest("keyed/app", &keyed),
            ]),
        ),
    );
    assert!(r.allowed, "{r:?}");
    let warm_ms = t.elapsed().as_millis();
    let t = Instant::now();
    let r = api.review(
        port,
        "/validate",
        "u-cold",
        review(
            "u-cold",
            WorkloadKind::Pod,
            &pod(&[&by_digest("team/cold", &cold)]),
        ),
    );
    let cold_ms = t.elapsed().as_millis();
    assert!(!r.allowed);
    assert!(t.elapsed() < Duration::from_secs(6), "{cold_ms} ms");
    assert!(
        r.result.message.contains("registry"),
        "{}",
        r.result.message
    );
    eprintln!(
        "registry down: warm {warm_ms} ms, cold deny {cold_ms} ms: {}",
        r.result.message
    );
    let metrics = api.get(port, "/metrics");
    assert!(counter(&metrics, "vouch_admission_registry_requests_total") > registry_before);
    for series in [
        "vouch_admission_requests_total{endpoint=\"validate\",code=\"200\"}",
        "vouch_admission_decisions_total{verdict=\"deny\",policy=\"release\",reason=\"policy-failed\"}",
        "vouch_admission_decisions_total{verdict=\"warn\",policy=\"warn-policy\",reason=\"warn-mode\"}",
        "vouch_admission_cache_entries",
    ] {
        assert!(counter(&metrics, series) >= 1.0, "{series} in:\n{metrics}");
    }
    assert!(
        metrics.contains("vouch_admission_decision_latency_seconds_bucket"),
        "{metrics}"
    );
    // One structured log line per decision.
    let log = std::fs::read_to_string(&w.log).unwrap();
    assert!(
        log.contains("admission decision") && log.contains("uid=u-multi"),
        "{log}"
    );
}

#[test]
fn witness_policy_gates_admission() {
    let Some(bin) = registry_bin_or_skip("witness_policy_gates_admission") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let registry = start_registry(&bin, &d.join("registry"));
    let inst = start_up_with(
        &d.join("data"),
        0,
        &d.join("up.log"),
        &["--witnesses", "1", "--require-witness-quorum"],
    );
    let oidc = inst.urls["oidc"].clone();
    let token = oidc_token(&oidc, "alice@example.com");
    let digest = push_image(&registry.addr, "team/app", "v1", b"witnessed");
    let image = format!("{}/team/app@{digest}", registry.addr);
    ok(
        &run(vouch()
            .arg("sign")
            .arg(&image)
            .args(["-y", "--identity-token", &token, "--trust-config"])
            .arg(&inst.trust_config)),
        "sign",
    );
    let policies = d.join("policies");
    write(
        &policies.join("release.yaml"),
        &cip(
            "release",
            &format!("{}/team/**", registry.addr),
            "",
            &format!(
                "  - name: alice-keyless\n    keyless:\n      url: https://ca.invalid\n      identities:\n      - issuer: {oidc}\n        subject: alice@example.com\n"
            ),
        ),
    );
    // The instance's policy (its one witness), and one requiring a witness nobody runs.
    let witnessed = d.join("data").join("witness_policy.txt");
    let log_line = std::fs::read_to_string(&witnessed)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("log "))
        .unwrap()
        .to_string();
    let out = run(vouch()
        .args(["witness", "key"])
        .arg(d.join("absent-witness"))
        .args(["--name", "absent.example/w"]));
    let absent_vkey = ok(&out, "witness key").lines().next().unwrap().to_string();
    let absent = d.join("absent_policy.txt");
    write(
        &absent,
        &format!("{log_line}\nwitness absent {absent_vkey}\nquorum absent\n"),
    );
    let certs = certificates(d);
    let ca = std::fs::read(&certs.0).unwrap();
    let admit = |name: &str, policy: &Path| {
        let w = start_webhook(
            d,
            name,
            &policies,
            &certs,
            &inst.trust_config,
            &["--witness-policy", policy.to_str().unwrap()],
        );
        let api = ApiServer::new(&ca, w.port);
        let body = request_review(
            name,
            WorkloadKind::Pod,
            Operation::Create,
            "prod",
            &pod(&[&image]),
            None,
            None,
        )
        .unwrap();
        api.review(w.port, "/validate", name, body)
    };
    let r = admit("witnessed", &witnessed);
    assert!(r.allowed, "{:?}", r.result);
    let r = admit("absent", &absent);
    assert!(!r.allowed, "admitted without the required cosignature");
    assert!(
        r.result.message.contains("policy release"),
        "{}",
        r.result.message
    );
    assert!(r.result.message.contains("absent"), "{}", r.result.message);
}
