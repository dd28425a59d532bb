//! The webhook against a test double of the policy engine (`FakeEngine`): every kind and
//! image field, tag and digest, mutation patches applied with `json-patch`, deny/warn/no-match,
//! the deadline, the cache (warm, cold, invalidation, registry down), skips, and HTTP 400s.
//! The end-to-end tests with the real engine, real signed images and HTTPS are in
//! `crates/vouch/tests/admission.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, EphemeralContainer, ImageVolumeSource, Pod, PodSpec, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube_core::admission::Operation;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;
use vouch_admission::review::request_review;
use vouch_admission::workload::WorkloadKind;
use vouch_admission::*;

const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

/// A policy engine double: images named `*unsigned*` fail, `*warn*` are in a warn-mode policy,
/// `*nomatch*` match no policy, `*slow*` take 500 ms to verify.
struct FakeEngine {
    policy: Mutex<String>,
    tags: HashMap<String, String>,
    registry_down: AtomicBool,
    verifications: AtomicU64,
    resolutions: AtomicU64,
}

impl FakeEngine {
    fn new() -> Arc<Self> {
        Arc::new(FakeEngine {
            policy: Mutex::new("policy-v1".into()),
            tags: HashMap::from([
                ("reg.test/app:v1".to_string(), D1.to_string()),
                ("reg.test/unsigned:v1".to_string(), D2.to_string()),
            ]),
            registry_down: AtomicBool::new(false),
            verifications: AtomicU64::new(0),
            resolutions: AtomicU64::new(0),
        })
    }
}

impl ImageDecider for FakeEngine {
    type Outcome = String;

    fn cache_key_parts(&self) -> CacheKeyParts {
        CacheKeyParts {
            policy_digest: self.policy.lock().unwrap().clone(),
            trust_digest: "trust-v1".into(),
            witness_policy_digest: String::new(),
        }
    }

    fn resolve_tag<'a>(&'a self, image: &'a str) -> BoxFuture<'a, Result<String, ResolveError>> {
        Box::pin(async move {
            self.resolutions.fetch_add(1, Ordering::SeqCst);
            if self.registry_down.load(Ordering::SeqCst) {
                return Err(ResolveError::Registry {
                    image: image.into(),
                    source: "connection refused".into(),
                });
            }
            self.tags
                .get(image)
                .cloned()
                .ok_or_else(|| ResolveError::NotFound {
                    image: image.into(),
                })
        })
    }

    fn verify<'a>(
        &'a self,
        image: &'a str,
    ) -> BoxFuture<'a, Result<Verified<String>, VerifyFailure>> {
        Box::pin(async move {
            self.verifications.fetch_add(1, Ordering::SeqCst);
            if image.contains("slow") {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            if self.registry_down.load(Ordering::SeqCst) {
                return Err(VerifyFailure::Registry {
                    image: image.into(),
                    source: "connection refused".into(),
                });
            }
            let passed = !image.contains("unsigned") && !image.contains("warn");
            Ok(Verified {
                outcome: image.to_string(),
                passed,
            })
        })
    }

    fn decide(
        &self,
        image: &str,
        verified: Result<&Verified<String>, &Unverified>,
        _ctx: &DecisionContext,
    ) -> Decision {
        if image.contains("nomatch") {
            return Decision::new(Verdict::Allow, "no-match", "");
        }
        let policy = if image.contains("warn") {
            "warn-policy"
        } else {
            "release"
        };
        let fail = if image.contains("warn") {
            Verdict::Warn
        } else {
            Verdict::Deny
        };
        let mut d = match verified {
            Ok(v) if v.passed => Decision::new(Verdict::Allow, "verified", ""),
            Ok(_) => Decision::new(
                fail,
                "signature",
                format!("{image}: policy {policy}: authority keyless: no matching signatures"),
            ),
            Err(u) => Decision::new(fail, u.reason(), format!("{image}: policy {policy}: {u}")),
        };
        d.policies = vec![policy.into()];
        d
    }

    fn registry_requests(&self) -> Option<u64> {
        Some(self.resolutions.load(Ordering::SeqCst) + self.verifications.load(Ordering::SeqCst))
    }
}

fn config(deadline_ms: u64) -> WebhookConfig {
    WebhookConfig {
        deadline: Duration::from_millis(deadline_ms),
        ..WebhookConfig::default()
    }
}

fn container(name: &str, image: &str) -> Container {
    Container {
        name: name.into(),
        image: Some(image.into()),
        ..Container::default()
    }
}

fn pod_spec(images: &[&str]) -> PodSpec {
    PodSpec {
        containers: images
            .iter()
            .enumerate()
            .map(|(i, im)| container(&format!("c{i}"), im))
            .collect(),
        ..PodSpec::default()
    }
}

fn pod(images: &[&str]) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("p".into()),
            namespace: Some("prod".into()),
            ..ObjectMeta::default()
        },
        spec: Some(pod_spec(images)),
        status: None,
    }
}

fn review(kind: WorkloadKind, op: Operation, obj: &impl serde::Serialize) -> Vec<u8> {
    request_review("uid-1", kind, op, "prod", obj, None, None).unwrap()
}

fn response(a: webhook::Answer) -> review::ReviewResponse {
    // Through the wire form, as the API server reads it (patch in base64).
    let json = review::review_json(a.response).unwrap();
    if let Some(i) = json.windows(9).position(|w| w == b"\"patch\":\"") {
        assert_ne!(json.get(i + 9), Some(&b'['));
    }
    let r: review::ResponseReview = serde_json::from_slice(&json).unwrap();
    assert_eq!(r.api_version, "admission.k8s.io/v1");
    r.response
}

#[tokio::test]
async fn digest_and_tag_allowed_with_resolved_annotation() {
    let engine = FakeEngine::new();
    let w = Webhook::new(engine.clone(), config(2000));
    let by_digest = format!("reg.test/app@{D1}");
    let body = review(
        WorkloadKind::Pod,
        Operation::Create,
        &pod(&[&by_digest, "reg.test/app:v1"]),
    );
    let r = response(w.validate(&body).await.unwrap());
    assert!(r.allowed, "{r:?}");
    assert_eq!(r.uid, "uid-1");
    let resolved = &r.audit_annotations[webhook::RESOLVED_ANNOTATION];
    assert!(
        resolved.contains(&format!("containers[c1]=reg.test/app:v1@{D1}")),
        "{resolved}"
    );
    // Both name the same digest: one verification.
    assert_eq!(engine.verifications.load(Ordering::SeqCst), 1);
    // Warm now: no verification, no resolution for the digest.
    let body = review(WorkloadKind::Pod, Operation::Create, &pod(&[&by_digest]));
    assert!(response(w.validate(&body).await.unwrap()).allowed);
    assert_eq!(engine.verifications.load(Ordering::SeqCst), 1);
    let m = w.metrics().encode();
    assert!(m.contains("vouch_admission_cache_hits_total 1"), "{m}");
}

#[tokio::test]
async fn mutate_pins_tags_in_every_field_and_kind() {
    let engine = FakeEngine::new();
    let w = Webhook::new(engine.clone(), config(2000));
    let mut spec = pod_spec(&["reg.test/app:v1"]);
    spec.init_containers = Some(vec![container("init", "reg.test/app:v1")]);
    spec.ephemeral_containers = Some(vec![EphemeralContainer {
        name: "dbg".into(),
        image: Some("reg.test/app:v1".into()),
        ..EphemeralContainer::default()
    }]);
    spec.volumes = Some(vec![Volume {
        name: "models".into(),
        image: Some(ImageVolumeSource {
            reference: Some("reg.test/app:v1".into()),
            pull_policy: None,
        }),
        ..Volume::default()
    }]);
    let deployment = Deployment {
        metadata: ObjectMeta {
            name: Some("d".into()),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            template: PodTemplateSpec {
                metadata: None,
                spec: Some(spec.clone()),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    };
    let body = review(WorkloadKind::Deployment, Operation::Create, &deployment);
    let r = response(w.mutate(&body).await.unwrap());
    assert!(r.allowed);
    let patch: json_patch::Patch = serde_json::from_slice(r.patch.as_deref().unwrap()).unwrap();
    assert_eq!(patch.0.len(), 4);
    let mut doc = serde_json::to_value(&deployment).unwrap();
    json_patch::patch(&mut doc, &patch.0).unwrap();
    let patched: Deployment = serde_json::from_value(doc).unwrap();
    let ps = patched.spec.unwrap().template.spec.unwrap();
    let pinned = format!("reg.test/app:v1@{D1}");
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
    // One resolution for the four sites; the mutation warmed the cache.
    assert_eq!(engine.resolutions.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(w.cache().len(), 1);
    // The patched object validates from the cache, for every kind with the same pod spec.
    for kind in WorkloadKind::ALL {
        let obj = nest(kind.pod_spec_path(), serde_json::to_value(&spec).unwrap());
        let body = review(kind, Operation::Create, &obj);
        let r = response(w.validate(&body).await.unwrap());
        assert!(r.allowed, "{kind:?}: {r:?}");
    }
    assert_eq!(engine.verifications.load(Ordering::SeqCst), 1);
}

/// `{"spec": {"template": {"spec": leaf}}}` for a path.
fn nest(path: &str, leaf: serde_json::Value) -> DynamicObjectLike {
    let mut v = leaf;
    for tok in path
        .split('/')
        .skip(1)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        let mut m = serde_json::Map::new();
        m.insert(tok.to_string(), v);
        v = serde_json::Value::Object(m);
    }
    DynamicObjectLike {
        metadata: ObjectMeta {
            name: Some("x".into()),
            ..ObjectMeta::default()
        },
        rest: v,
    }
}

#[derive(serde::Serialize)]
struct DynamicObjectLike {
    metadata: ObjectMeta,
    #[serde(flatten)]
    rest: serde_json::Value,
}

#[tokio::test]
async fn one_unsigned_container_denies_the_pod() {
    let w = Webhook::new(FakeEngine::new(), config(2000));
    let body = review(
        WorkloadKind::Pod,
        Operation::Create,
        &pod(&["reg.test/app:v1", "reg.test/unsigned:v1"]),
    );
    let r = response(w.validate(&body).await.unwrap());
    assert!(!r.allowed);
    assert_eq!(r.result.code, 403);
    let msg = &r.result.message;
    assert!(msg.contains("containers[c1]"), "{msg}");
    assert!(msg.contains(&format!("reg.test/unsigned@{D2}")), "{msg}");
    assert!(msg.contains("policy release"), "{msg}");
    assert!(msg.contains("authority keyless"), "{msg}");
    assert!(!msg.contains("containers[c0]"), "{msg}");
    let m = w.metrics().encode();
    assert!(
        m.contains(r#"vouch_admission_decisions_total{verdict="deny",policy="release",reason="signature"} 1"#),
        "{m}"
    );
}

#[tokio::test]
async fn warn_mode_and_no_match() {
    let w = Webhook::new(FakeEngine::new(), config(2000));
    let body = review(
        WorkloadKind::Pod,
        Operation::Create,
        &pod(&[
            &format!("reg.test/warn@{D1}"),
            &format!("reg.test/nomatch@{D2}"),
        ]),
    );
    let r = response(w.validate(&body).await.unwrap());
    assert!(r.allowed);
    let warnings = r.warnings.unwrap_or_default();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("warn-policy"), "{warnings:?}");
}

#[tokio::test]
async fn deadline_then_cache() {
    let engine = FakeEngine::new();
    let w = Webhook::new(engine.clone(), config(100));
    let body = review(
        WorkloadKind::Pod,
        Operation::Create,
        &pod(&[&format!("reg.test/slow@{D1}")]),
    );
    let t = std::time::Instant::now();
    let r = response(w.validate(&body).await.unwrap());
    assert!(
        t.elapsed() < Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    assert!(!r.allowed);
    assert!(
        r.result.message.contains("admission deadline"),
        "{}",
        r.result.message
    );
    // The verification went on in the background.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let r = response(w.validate(&body).await.unwrap());
    assert!(r.allowed, "{r:?}");
    assert_eq!(engine.verifications.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn registry_down_warm_and_cold() {
    let engine = FakeEngine::new();
    let w = Webhook::new(engine.clone(), config(1000));
    let warm = review(
        WorkloadKind::Pod,
        Operation::Create,
        &pod(&[&format!("reg.test/app@{D1}")]),
    );
    assert!(response(w.validate(&warm).await.unwrap()).allowed);
    engine.registry_down.store(true, Ordering::SeqCst);
    // Warm: served from the cache.
    assert!(response(w.validate(&warm).await.unwrap()).allowed);
    // Cold digest: a named error, fast.
    let cold = review(
        WorkloadKind::Pod,
        Operation::Create,
        &pod(&[&format!("reg.test/other@{D2}")]),
    );
    let r = response(w.validate(&cold).await.unwrap());
    assert!(!r.allowed);
    assert!(
        r.result.message.contains("registry unavailable"),
        "{}",
        r.result.message
    );
    // Cold tag: cannot be resolved.
    let tag = review(
        WorkloadKind::Pod,
        Operation::Create,
        &pod(&["reg.test/app:v1"]),
    );
    let r = response(w.validate(&tag).await.unwrap());
    assert!(!r.allowed);
    assert!(
        r.result.message.contains("resolving reg.test/app:v1"),
        "{}",
        r.result.message
    );
    // Mutation cannot pin: allowed unchanged, with a warning.
    let r = response(w.mutate(&tag).await.unwrap());
    assert!(r.allowed && r.patch.is_none());
    assert!(r.warnings.unwrap_or_default()[0].contains("not pinned"));
}

#[tokio::test]
async fn policy_change_invalidates() {
    let engine = FakeEngine::new();
    let w = Webhook::new(engine.clone(), config(1000));
    let body = review(
        WorkloadKind::Pod,
        Operation::Create,
        &pod(&[&format!("reg.test/app@{D1}")]),
    );
    assert!(response(w.validate(&body).await.unwrap()).allowed);
    assert!(response(w.validate(&body).await.unwrap()).allowed);
    assert_eq!(engine.verifications.load(Ordering::SeqCst), 1);
    *engine.policy.lock().unwrap() = "policy-v2".into();
    assert!(response(w.validate(&body).await.unwrap()).allowed);
    assert_eq!(engine.verifications.load(Ordering::SeqCst), 2);
    // The refresher pass drops the old entry.
    w.refresh_once();
    assert_eq!(w.cache().len(), 1);
}

#[tokio::test]
async fn prefetch_fills_the_cache() {
    let engine = FakeEngine::new();
    let w = Webhook::new(engine.clone(), config(1000));
    let resp = w
        .prefetch(PrefetchRequest {
            images: vec![
                "reg.test/app:v1".into(),
                format!("reg.test/unsigned@{D2}"),
                "reg.test/missing:v9".into(),
            ],
        })
        .await
        .unwrap();
    let states: Vec<(PrefetchState, Option<bool>)> =
        resp.results.iter().map(|r| (r.state, r.passed)).collect();
    assert_eq!(
        states,
        vec![
            (PrefetchState::Verified, Some(true)),
            (PrefetchState::Verified, Some(false)),
            (PrefetchState::Error, None),
        ]
    );
    let body = review(
        WorkloadKind::Pod,
        Operation::Create,
        &pod(&[&format!("reg.test/app@{D1}")]),
    );
    assert!(response(w.validate(&body).await.unwrap()).allowed);
    assert_eq!(engine.verifications.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn skips() {
    let engine = FakeEngine::new();
    let w = Webhook::new(engine.clone(), config(1000));
    let unsigned = pod(&[&format!("reg.test/unsigned@{D2}")]);
    // DELETE.
    let body = review(WorkloadKind::Pod, Operation::Delete, &unsigned);
    assert!(response(w.validate(&body).await.unwrap()).allowed);
    // Status subresource.
    let body = request_review(
        "u",
        WorkloadKind::Pod,
        Operation::Update,
        "prod",
        &unsigned,
        Some(&unsigned),
        Some("status"),
    )
    .unwrap();
    assert!(response(w.validate(&body).await.unwrap()).allowed);
    // Ephemeral containers subresource is checked.
    let body = request_review(
        "u",
        WorkloadKind::Pod,
        Operation::Update,
        "prod",
        &unsigned,
        Some(&unsigned),
        Some("ephemeralcontainers"),
    )
    .unwrap();
    assert!(!response(w.validate(&body).await.unwrap()).allowed);
    // Excluded namespace.
    let body = request_review(
        "u",
        WorkloadKind::Pod,
        Operation::Create,
        "kube-system",
        &unsigned,
        None,
        None,
    )
    .unwrap();
    assert!(response(w.validate(&body).await.unwrap()).allowed);
    // Scale-down of a deployment with an unsigned image; a scale-up is checked.
    let dep = |replicas: i32| Deployment {
        metadata: ObjectMeta {
            name: Some("d".into()),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            template: PodTemplateSpec {
                metadata: None,
                spec: Some(pod_spec(&[&format!("reg.test/unsigned@{D2}")])),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    };
    let down = request_review(
        "u",
        WorkloadKind::Deployment,
        Operation::Update,
        "prod",
        &dep(1),
        Some(&dep(3)),
        None,
    )
    .unwrap();
    assert!(response(w.validate(&down).await.unwrap()).allowed);
    let up = request_review(
        "u",
        WorkloadKind::Deployment,
        Operation::Update,
        "prod",
        &dep(3),
        Some(&dep(1)),
        None,
    )
    .unwrap();
    assert!(!response(w.validate(&up).await.unwrap()).allowed);
}

async fn post(
    w: &Arc<Webhook<FakeEngine>>,
    path: &str,
    ct: &str,
    body: Vec<u8>,
) -> (StatusCode, Vec<u8>) {
    let app = http::router(w.clone());
    let req = Request::post(path)
        .header("content-type", ct)
        .body(Body::from(body))
        .unwrap();
    let resp = app.oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, bytes)
}

#[tokio::test]
async fn bad_requests_get_400_json() {
    let w = Arc::new(Webhook::new(FakeEngine::new(), config(1000)));
    let json = "application/json";
    for (path, body) in [
        ("/validate", b"{not json".to_vec()),
        ("/mutate", b"{\"kind\":\"AdmissionReview\"}".to_vec()),
        (
            "/validate",
            br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1beta1","request":null}"#
                .to_vec(),
        ),
        ("/validate", vec![b' '; 10_000_000]),
        ("/prefetch", b"[]".to_vec()),
    ] {
        let (status, bytes) = post(&w, path, json, body).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            String::from_utf8_lossy(&bytes)
        );
        let e: http::ErrorBody = serde_json::from_slice(&bytes).unwrap();
        assert!(!e.error.is_empty());
    }
    let (status, _) = post(&w, "/validate", "text/plain", b"{}".to_vec()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // And still serving.
    let body = review(
        WorkloadKind::Pod,
        Operation::Create,
        &pod(&[&format!("reg.test/app@{D1}")]),
    );
    let (status, bytes) = post(&w, "/validate", json, body).await;
    assert_eq!(status, StatusCode::OK);
    let r: review::ResponseReview = serde_json::from_slice(&bytes).unwrap();
    assert!(r.response.allowed);
    let m = w.metrics().encode();
    assert!(
        m.contains(r#"vouch_admission_requests_total{endpoint="validate",code="400"} 3"#),
        "{m}"
    );
    let _ = HashSet::<u8>::new();
}

/// A decision sink that records in memory, or fails while `broken` is set.
#[derive(Default)]
struct FlakySink {
    broken: AtomicBool,
    records: Mutex<Vec<String>>,
}

impl DecisionSink for FlakySink {
    fn record(&self, decisions: &[LoggedDecision]) -> Result<(), BoxError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err("cannot write /var/log/decisions.jsonl: No space left on device".into());
        }
        let mut r = self.records.lock().unwrap();
        r.extend(decisions.iter().map(|d| format!("{} {}", d.uid, d.image)));
        Ok(())
    }
}

#[tokio::test]
async fn a_failed_decision_log_write_denies() {
    let sink = Arc::new(FlakySink::default());
    let w = Webhook::new(FakeEngine::new(), config(2000)).with_decision_log(sink.clone());
    let body = review(
        WorkloadKind::Pod,
        Operation::Create,
        &pod(&["reg.test/app:v1"]),
    );
    assert!(response(w.validate(&body).await.unwrap()).allowed);
    assert_eq!(sink.records.lock().unwrap().len(), 1);
    // Allowed by policy (from the cache now), but not recorded: denied, fail closed.
    sink.broken.store(true, Ordering::SeqCst);
    let r = response(w.validate(&body).await.unwrap());
    assert!(!r.allowed);
    assert_eq!(r.result.code, 403);
    assert_eq!(
        r.result.message,
        "decision log write failed: cannot write /var/log/decisions.jsonl: No space left on device; denying (fail closed)"
    );
    // A policy denial keeps its own message beside the log failure.
    let bad = review(
        WorkloadKind::Pod,
        Operation::Create,
        &pod(&["reg.test/unsigned:v1"]),
    );
    let r = response(w.validate(&bad).await.unwrap());
    assert!(!r.allowed);
    assert!(
        r.result.message.contains("policy release"),
        "{}",
        r.result.message
    );
    assert!(
        r.result.message.ends_with("; denying (fail closed)"),
        "{}",
        r.result.message
    );
    let m = w.metrics().encode();
    assert!(
        m.contains("vouch_admission_decision_log_failures_total 2"),
        "{m}"
    );
    sink.broken.store(false, Ordering::SeqCst);
    assert!(response(w.validate(&body).await.unwrap()).allowed);
    assert_eq!(sink.records.lock().unwrap().len(), 2);
}
