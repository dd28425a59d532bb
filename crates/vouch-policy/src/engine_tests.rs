//! Unit tests of the engine: static policies, modes, no-match, thresholds, selectors.

use super::*;
use crate::source::SignatureSource;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts discover calls: a policy of static authorities must not read the registry.
#[derive(Default)]
struct Counting(AtomicUsize);

impl SignatureSource for Counting {
    async fn discover(
        &self,
        _image: &Reference,
        _kind: Kind,
    ) -> Result<Vec<Found>, vouch_oci::OciError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(Vec::new())
    }
}

const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn engine(yaml: &str, no_match: NoMatchPolicy) -> Engine<Counting> {
    let set = PolicySet::from_yaml(Path::new("t.yaml"), yaml).unwrap();
    Engine::new(
        Arc::new(set),
        Arc::new(Trust::new(None)),
        Counting::default(),
        Arc::new(ExceptionSet::none()),
        EngineOptions { no_match },
    )
    .unwrap()
}

fn cip(name: &str, glob: &str, extra: &str, action: &str) -> String {
    format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: {name}\nspec:\n  images:\n  - glob: \"{glob}\"\n{extra}  authorities:\n  - static:\n      action: {action}\n      message: frozen\n---\n"
    )
}

fn decide(e: &Engine<Counting>, image: &str, ctx: &EvalContext) -> ImageDecision {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let img = ImageRef::parse(&format!("{image}@{DIGEST}")).unwrap();
    rt.block_on(e.evaluate_image(&img, ctx))
}

#[test]
fn static_policies_modes_and_no_match() {
    let yaml = format!(
        "{}{}{}",
        cip("open", "reg.local/open/**", "", "pass"),
        cip("frozen", "reg.local/frozen/**", "", "fail"),
        cip("soft", "reg.local/soft/**", "  mode: warn\n", "fail"),
    );
    let e = engine(&yaml, NoMatchPolicy::Deny);
    let ctx = EvalContext::cli(jiff::Timestamp::now());
    assert_eq!(
        decide(&e, "reg.local/open/app", &ctx).verdict,
        Verdict::Allow
    );
    let d = decide(&e, "reg.local/frozen/app", &ctx);
    assert_eq!(d.verdict, Verdict::Deny);
    assert!(
        d.message().contains("policy frozen")
            && d.message().contains("disallowed by static policy: frozen"),
        "{}",
        d.message()
    );
    assert!(
        d.message()
            .contains(&format!("reg.local/frozen/app@{DIGEST}")),
        "{}",
        d.message()
    );
    let d = decide(&e, "reg.local/soft/app", &ctx);
    assert_eq!(d.verdict, Verdict::Warn, "{d:?}");
    let d = decide(&e, "reg.local/none/app", &ctx);
    assert_eq!(d.verdict, Verdict::Deny);
    assert!(d.message().contains("no matching policies"));
    assert_eq!(
        e.source().0.load(Ordering::SeqCst),
        0,
        "static policies read the registry"
    );
    for (nm, want) in [
        (NoMatchPolicy::Allow, Verdict::Allow),
        (NoMatchPolicy::Warn, Verdict::Warn),
    ] {
        let e = engine(&yaml, nm);
        assert_eq!(decide(&e, "reg.local/none/app", &ctx).verdict, want);
    }
}

#[test]
fn every_matching_policy_must_pass_and_threshold_counts_authorities() {
    let yaml = format!(
        "{}{}",
        cip("a", "reg.local/**", "", "pass"),
        cip("b", "reg.local/app/*", "", "fail")
    );
    let e = engine(&yaml, NoMatchPolicy::Deny);
    let ctx = EvalContext::cli(jiff::Timestamp::now());
    assert_eq!(decide(&e, "reg.local/app/x", &ctx).verdict, Verdict::Deny);
    assert_eq!(
        decide(&e, "reg.local/other/x", &ctx).verdict,
        Verdict::Allow
    );
    let two = "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: dual\nspec:\n  images:\n  - glob: \"**\"\n  threshold: 2\n  authorities:\n  - static: {action: pass}\n  - static: {action: fail}\n";
    let e = engine(two, NoMatchPolicy::Deny);
    let d = decide(&e, "reg.local/app/x", &ctx);
    assert_eq!(d.verdict, Verdict::Deny);
    assert!(
        d.message()
            .contains("1 of 2 authorities passed, threshold is 2"),
        "{}",
        d.message()
    );
    let e = engine(&two.replace("  threshold: 2\n", ""), NoMatchPolicy::Deny);
    assert_eq!(decide(&e, "reg.local/app/x", &ctx).verdict, Verdict::Allow);
}

#[test]
fn match_selectors_apply_at_decision_time() {
    let extra = "  match:\n  - group: apps\n    version: v1\n    resource: deployments\n    selector:\n      matchLabels:\n        tier: prod\n";
    let e = engine(&cip("prod-only", "**", extra, "fail"), NoMatchPolicy::Allow);
    let img = ImageRef::parse(&format!("reg.local/app@{DIGEST}")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let v = rt.block_on(e.verify_image(&img));
    let mut ctx = EvalContext::cli(jiff::Timestamp::now());
    // Outside Kubernetes `match` is not consulted: the policy applies.
    assert_eq!(e.decide(&v, &ctx).verdict, Verdict::Deny);
    ctx.resource = Some(ResourceKind {
        group: "apps".into(),
        version: "v1".into(),
        resource: "deployments".into(),
    });
    assert_eq!(e.decide(&v, &ctx).verdict, Verdict::Allow, "no prod label");
    ctx.labels.insert("tier".into(), "prod".into());
    assert_eq!(e.decide(&v, &ctx).verdict, Verdict::Deny);
    ctx.resource = Some(ResourceKind {
        group: String::new(),
        version: "v1".into(),
        resource: "pods".into(),
    });
    assert_eq!(
        e.decide(&v, &ctx).verdict,
        Verdict::Allow,
        "another resource"
    );
}

/// The webhook shares one engine between tasks and spawns verifications.
#[test]
fn engine_and_verification_futures_are_send() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Engine<crate::OciSource>>();
    send_sync::<Verification>();
    fn send<T: Send>(_: &T) {}
    let e = engine(&cip("a", "**", "", "pass"), NoMatchPolicy::Deny);
    let img = ImageRef::parse(&format!("reg.local/app@{DIGEST}")).unwrap();
    let fut = e.verify_image(&img);
    send(&fut);
    let reg = vouch_oci::Registry::new(vouch_oci::RegistryOptions::default()).unwrap();
    let set =
        Arc::new(PolicySet::from_yaml(Path::new("t.yaml"), &cip("a", "**", "", "pass")).unwrap());
    let oci = Engine::new(
        set,
        Arc::new(Trust::new(None)),
        crate::OciSource::new(reg),
        Arc::new(ExceptionSet::none()),
        EngineOptions::default(),
    )
    .unwrap();
    send(&oci.verify_image(&img));
}

#[test]
fn image_refs_need_a_digest() {
    assert!(matches!(
        ImageRef::parse("reg.local/app:v1"),
        Err(ImageRefError::NoDigest { .. })
    ));
    let r = ImageRef::with_digest("reg.local/app:v1", DIGEST).unwrap();
    assert_eq!(r.qualified(), format!("reg.local/app@{DIGEST}"));
    assert!(ImageRef::with_digest("reg.local/app:v1", "sha256:12").is_err());
}

#[test]
fn resource_kinds_as_kubernetes_guesses_them() {
    let r = ResourceKind::from_kind("apps/v1", "Deployment");
    assert_eq!(
        (r.group.as_str(), r.version.as_str(), r.resource.as_str()),
        ("apps", "v1", "deployments")
    );
    assert_eq!(ResourceKind::from_kind("v1", "Pod").resource, "pods");
    assert_eq!(ResourceKind::from_kind("v1", "Pod").group, "");
    assert_eq!(
        ResourceKind::from_kind("batch/v1", "CronJob").resource,
        "cronjobs"
    );
    assert_eq!(
        ResourceKind::from_kind("v1", "ReplicationController").resource,
        "replicationcontrollers"
    );
    assert_eq!(
        ResourceKind::from_kind("x/v1", "Policy").resource,
        "policies"
    );
    assert_eq!(
        ResourceKind::from_kind("x/v1", "Ingress").resource,
        "ingresses"
    );
}
