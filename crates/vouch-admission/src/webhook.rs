//! The admission logic, without HTTP: a body in, an AdmissionReview out. [`crate::http`]
//! wraps it in routes.
//!
//! `/validate`: every image of the object is decided by digest. A tag is resolved with one
//! registry request (and the digest recorded in `auditAnnotations`). A cached verification is
//! decided on at once; an uncached one is verified in the background and waited for until the
//! deadline, after which the image is decided as [`Unverified::DeadlineExceeded`] (deny, or
//! warn in warn mode: the engine's call) while the verification goes on and fills the cache.
//!
//! `/mutate`: every tag is resolved and rewritten to `name:tag@digest` by a JSON patch; every
//! digest not yet cached starts a background verification, so that the `/validate` call that
//! follows finds it warm.

use crate::cache::{CacheConfig, CacheKey, DecisionCache, Done, Pending};
use crate::decider::{Decision, DecisionContext, ImageDecider, ResolveError, Unverified, Verdict};
use crate::decision_log::{DecisionSink, LoggedDecision};
use crate::image::ImageRef;
use crate::limits::{DEFAULT_DEADLINE, MAX_IMAGES_PER_REVIEW, MAX_PREFETCH_IMAGES};
use crate::metrics::{DecisionLabel, ExceptionLabel, LatencyLabel, Metrics};
use crate::review::{ReviewError, deny, parse_review};
use crate::workload::{ImageSite, WorkloadKind, image_sites, is_scale_down};
use json_patch::{Patch, PatchOperation, ReplaceOperation};
use kube_core::DynamicObject;
use kube_core::admission::{AdmissionRequest, AdmissionResponse, Operation};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The audit annotation listing tags resolved by `/validate`.
pub const RESOLVED_ANNOTATION: &str = "resolved-images";

/// Webhook behaviour.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// How long an admission waits for an uncached verification or a tag resolution.
    pub deadline: Duration,
    /// Whether `/mutate` rewrites tags (false: `--no-mutate`; `/mutate` then allows unchanged).
    pub mutate: bool,
    /// Namespaces never checked (also excluded in the generated webhook configurations).
    pub excluded_namespaces: Vec<String>,
    /// Cache lifetimes and size.
    pub cache: CacheConfig,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            deadline: DEFAULT_DEADLINE,
            mutate: true,
            excluded_namespaces: vec!["kube-system".into()],
            cache: CacheConfig::default(),
        }
    }
}

/// Which endpoint answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `/validate`.
    Validate,
    /// `/mutate`.
    Mutate,
}

impl Endpoint {
    /// `validate` or `mutate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Validate => "validate",
            Endpoint::Mutate => "mutate",
        }
    }
}

/// Why a request was admitted without looking at its images.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skip {
    /// DELETE or CONNECT.
    Operation(&'static str),
    /// A subresource other than `ephemeralcontainers` (status, scale, …).
    SubResource(String),
    /// A kind the webhook does not check.
    Kind(String),
    /// An excluded namespace.
    Namespace(String),
    /// The object is being deleted.
    BeingDeleted,
    /// An UPDATE that only lowers the replica count.
    ScaleDown,
    /// No object in the request.
    NoObject,
}

impl Skip {
    fn label(&self) -> &'static str {
        match self {
            Skip::Operation(_) => "operation",
            Skip::SubResource(_) => "subresource",
            Skip::Kind(_) => "kind",
            Skip::Namespace(_) => "excluded-namespace",
            Skip::BeingDeleted => "being-deleted",
            Skip::ScaleDown => "scale-down",
            Skip::NoObject => "no-object",
        }
    }
}

/// What `POST /prefetch` takes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PrefetchRequest {
    /// Images by digest or tag.
    pub images: Vec<String>,
}

/// The state of one prefetched image.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PrefetchState {
    /// Verified and cached; see `passed`.
    Verified,
    /// Still verifying when the deadline passed; it will be cached when done.
    Pending,
    /// The verification or tag resolution could not be carried out.
    Error,
}

/// The result for one prefetched image.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PrefetchResult {
    /// The image as given.
    pub image: String,
    /// The image by digest, when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub digest_ref: Option<String>,
    /// Verified, pending or error.
    pub state: PrefetchState,
    /// For `verified`: whether every matching policy passed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub passed: Option<bool>,
    /// For `error`: what went wrong.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

/// What `POST /prefetch` answers.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PrefetchResponse {
    /// One result per image, in request order.
    pub results: Vec<PrefetchResult>,
}

/// The answer to one review, for the HTTP layer.
#[derive(Debug)]
pub struct Answer {
    /// The response to wrap into the AdmissionReview.
    pub response: AdmissionResponse,
}

/// One image's path through a review.
struct ImageWork<O> {
    sites: Vec<String>,
    image: String,
    by_digest: Option<String>,
    state: ImageState<O>,
}

enum ImageState<O> {
    Ready(Done<O>),
    Waiting(Pending<O>),
    Unverified(Unverified),
}

/// The webhook: engine, cache, metrics and configuration.
pub struct Webhook<D: ImageDecider> {
    decider: Arc<D>,
    cache: Arc<DecisionCache<D::Outcome>>,
    metrics: Arc<Metrics>,
    config: WebhookConfig,
    decision_log: Option<Arc<dyn DecisionSink>>,
}

impl<D: ImageDecider> std::fmt::Debug for Webhook<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("config", &self.config)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl<D: ImageDecider> Webhook<D> {
    /// A webhook over `decider`.
    pub fn new(decider: Arc<D>, config: WebhookConfig) -> Self {
        Webhook {
            decider,
            cache: Arc::new(DecisionCache::new(config.cache.clone())),
            metrics: Arc::new(Metrics::new()),
            config,
            decision_log: None,
        }
    }

    /// Record every `/validate` image decision in `sink` before answering.
    pub fn with_decision_log(mut self, sink: Arc<dyn DecisionSink>) -> Self {
        self.decision_log = Some(sink);
        self
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The cache.
    pub fn cache(&self) -> &Arc<DecisionCache<D::Outcome>> {
        &self.cache
    }

    /// The configuration.
    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// Refresh the scrape-time metrics (cache size, engine counters, exception age).
    pub fn update_gauges(&self) {
        self.metrics
            .cache_entries
            .set(i64::try_from(self.cache.len()).unwrap_or(i64::MAX));
        if let Some(n) = self.decider.registry_requests() {
            self.metrics.engine_registry_requests(n);
        }
        let age = self
            .decider
            .oldest_open_exception_age(jiff::Timestamp::now())
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.metrics.oldest_exception_age.set(age);
    }

    fn key(&self, by_digest: &str) -> CacheKey {
        CacheKey {
            parts: self.decider.cache_key_parts(),
            image: by_digest.to_string(),
        }
    }

    /// The verification of `key`: from the cache, joined if in flight, or started.
    fn lookup(&self, key: CacheKey) -> ImageState<D::Outcome> {
        if let Some(hit) = self.cache.get(&key) {
            self.metrics.cache_hits.inc();
            return ImageState::Ready(Ok(hit.verified));
        }
        self.metrics.cache_misses.inc();
        ImageState::Waiting(self.start(key))
    }

    /// Start (or join) a background verification of `key`.
    fn start(&self, key: CacheKey) -> Pending<D::Outcome> {
        let decider = self.decider.clone();
        let metrics = self.metrics.clone();
        let image = key.image.clone();
        self.cache.verify_in_background(key, move || {
            metrics.verifications.inc();
            async move { decider.verify(&image).await }
        })
    }

    async fn resolve(
        &self,
        image: &str,
        until: tokio::time::Instant,
    ) -> Result<String, Unverified> {
        match tokio::time::timeout_at(until, self.decider.resolve_tag(image)).await {
            Ok(Ok(d)) => Ok(d),
            Ok(Err(e)) => Err(Unverified::Unresolved(Arc::new(e))),
            Err(_) => Err(Unverified::Unresolved(Arc::new(ResolveError::Registry {
                image: image.to_string(),
                source: format!(
                    "no answer within the {:?} admission deadline",
                    self.config.deadline
                )
                .into(),
            }))),
        }
    }

    /// Why `req` is admitted without a look at its images, if it is.
    fn skip(&self, req: &AdmissionRequest<DynamicObject>) -> Result<Option<Skip>, ReviewError> {
        match req.operation {
            Operation::Delete => return Ok(Some(Skip::Operation("DELETE"))),
            Operation::Connect => return Ok(Some(Skip::Operation("CONNECT"))),
            Operation::Create | Operation::Update => {}
        }
        if let Some(s) = req.sub_resource.as_deref()
            && !s.is_empty()
            && s != "ephemeralcontainers"
        {
            return Ok(Some(Skip::SubResource(s.to_string())));
        }
        if let Some(ns) = req.namespace.as_deref()
            && self.config.excluded_namespaces.iter().any(|e| e == ns)
        {
            return Ok(Some(Skip::Namespace(ns.to_string())));
        }
        let Some(kind) = WorkloadKind::from_group_kind(&req.kind.group, &req.kind.kind) else {
            return Ok(Some(Skip::Kind(format!(
                "{}/{}",
                req.kind.group, req.kind.kind
            ))));
        };
        let Some(obj) = &req.object else {
            return Ok(Some(Skip::NoObject));
        };
        if obj.metadata.deletion_timestamp.is_some() {
            return Ok(Some(Skip::BeingDeleted));
        }
        if req.operation == Operation::Update
            && let Some(old) = &req.old_object
            && is_scale_down(kind, &obj.data, &old.data)
        {
            return Ok(Some(Skip::ScaleDown));
        }
        Ok(None)
    }

    /// The kind and image sites of an admitted object.
    fn sites(
        req: &AdmissionRequest<DynamicObject>,
    ) -> Result<(WorkloadKind, Vec<ImageSite>), ReviewError> {
        let kind = WorkloadKind::from_group_kind(&req.kind.group, &req.kind.kind)
            .ok_or_else(|| ReviewError::NoRequest)?;
        let sites = match &req.object {
            Some(o) => image_sites(kind, &o.data)?,
            None => Vec::new(),
        };
        if sites.len() > MAX_IMAGES_PER_REVIEW {
            return Err(ReviewError::TooManyImages {
                count: sites.len(),
                limit: MAX_IMAGES_PER_REVIEW,
            });
        }
        Ok((kind, sites))
    }

    fn context(req: &AdmissionRequest<DynamicObject>, kind: WorkloadKind) -> DecisionContext {
        let meta = req.object.as_ref().map(|o| &o.metadata);
        DecisionContext {
            namespace: req.namespace.clone().unwrap_or_default(),
            kind: kind.kind().to_string(),
            group: kind.group().to_string(),
            resource: kind.resource().to_string(),
            name: meta
                .and_then(|m| m.name.clone().or_else(|| m.generate_name.clone()))
                .unwrap_or_else(|| req.name.clone()),
            labels: meta.and_then(|m| m.labels.clone()).unwrap_or_default(),
            now: jiff::Timestamp::now(),
        }
    }

    /// Answer an AdmissionReview body on `/validate`.
    pub async fn validate(&self, body: &[u8]) -> Result<Answer, ReviewError> {
        let started = Instant::now();
        let until = tokio::time::Instant::now() + self.config.deadline;
        let req = parse_review(body)?;
        let resp = AdmissionResponse::from(&req);
        if let Some(skip) = self.skip(&req)? {
            log_skip(Endpoint::Validate, &req, &skip);
            return Ok(Answer { response: resp });
        }
        let (kind, sites) = Self::sites(&req)?;
        let ctx = Self::context(&req, kind);

        // Group the sites by image: one lookup per distinct reference.
        let mut work: Vec<ImageWork<D::Outcome>> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for s in &sites {
            if let Some(&i) = index.get(s.image.as_str()) {
                if let Some(w) = work.get_mut(i) {
                    w.sites.push(s.label());
                }
                continue;
            }
            index.insert(&s.image, work.len());
            work.push(ImageWork {
                sites: vec![s.label()],
                image: s.image.clone(),
                by_digest: None,
                state: ImageState::Unverified(Unverified::DeadlineExceeded {
                    image: s.image.clone(),
                    deadline: self.config.deadline,
                }),
            });
        }
        let mut resolved = Vec::new();
        let mut all_hits = true;
        for w in &mut work {
            let r = ImageRef::parse(&w.image);
            let by_digest = match r.digest {
                Some(d) => r.by_digest(d),
                None => match self.resolve(&w.image, until).await {
                    Ok(d) => {
                        resolved.push(format!("{}={}", w.sites.join(","), r.pinned(&d)));
                        r.by_digest(&d)
                    }
                    Err(u) => {
                        all_hits = false;
                        w.state = ImageState::Unverified(u);
                        continue;
                    }
                },
            };
            w.state = self.lookup(self.key(&by_digest));
            if matches!(w.state, ImageState::Waiting(_)) {
                all_hits = false;
            }
            w.by_digest = Some(by_digest);
        }
        // Wait for the misses, all against the same deadline.
        for w in &mut work {
            if let ImageState::Waiting(rx) = &mut w.state {
                let image = w.by_digest.clone().unwrap_or_else(|| w.image.clone());
                let done = match tokio::time::timeout_at(until, rx.wait_for(Option::is_some)).await
                {
                    Ok(Ok(done)) => done.as_ref().cloned(),
                    _ => None,
                };
                w.state = match done {
                    Some(d) => ImageState::Ready(d),
                    None => ImageState::Unverified(Unverified::DeadlineExceeded {
                        image,
                        deadline: self.config.deadline,
                    }),
                };
            }
        }

        // Decide each image, then the review.
        let mut denials = Vec::new();
        let mut warnings = Vec::new();
        let mut audit: BTreeMap<String, String> = BTreeMap::new();
        let mut policies = Vec::new();
        let mut verdict = Verdict::Allow;
        let mut logged = Vec::new();
        for w in &work {
            let image = w.by_digest.as_deref().unwrap_or(&w.image);
            let decision = match &w.state {
                ImageState::Ready(Ok(v)) => self.decider.decide(image, Ok(v), &ctx),
                ImageState::Ready(Err(f)) => {
                    self.decide_unverified(image, &Unverified::Failed(f.clone()), &ctx)
                        .await
                }
                ImageState::Unverified(u) => self.decide_unverified(image, u, &ctx).await,
                ImageState::Waiting(_) => Decision::new(
                    Verdict::Deny,
                    "internal",
                    format!("{image}: verification state lost"),
                ),
            };
            self.count(&decision);
            if self.decision_log.is_some() {
                logged.push(LoggedDecision {
                    uid: req.uid.clone(),
                    context: ctx.clone(),
                    image: image.to_string(),
                    decision: decision.clone(),
                });
            }
            let at = w.sites.join(", ");
            match decision.verdict {
                Verdict::Deny => {
                    verdict = Verdict::Deny;
                    denials.push(format!("{at}: {}", decision.message));
                }
                Verdict::Warn => {
                    if verdict == Verdict::Allow {
                        verdict = Verdict::Warn;
                    }
                    if !decision.message.is_empty() {
                        warnings.push(format!("{at}: {}", decision.message));
                    }
                }
                Verdict::Allow => {}
            }
            warnings.extend(decision.warnings.iter().cloned());
            for (k, v) in decision.audit_annotations {
                audit
                    .entry(annotation_key(&k))
                    .and_modify(|old| {
                        if !old.split("; ").any(|x| x == v) {
                            old.push_str("; ");
                            old.push_str(&v);
                        }
                    })
                    .or_insert(v);
            }
            for p in decision.policies {
                if !policies.contains(&p) {
                    policies.push(p);
                }
            }
        }
        if !resolved.is_empty() {
            audit.insert(RESOLVED_ANNOTATION.into(), resolved.join("; "));
        }
        // Logged before the answer, and fail closed: a review whose decisions could not be
        // recorded is denied (an allow the audit trail does not show is not given).
        if let Some(sink) = self.decision_log.clone()
            && !logged.is_empty()
        {
            let failure = match tokio::task::spawn_blocking(move || sink.record(&logged)).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(e) => Some(format!("the writer task failed: {e}")),
            };
            if let Some(why) = failure {
                tracing::error!(uid = %req.uid, error = %why, "decision log write failed: denying the review");
                self.metrics.decision_log_failures.inc();
                verdict = Verdict::Deny;
                denials.push(format!(
                    "decision log write failed: {why}; denying (fail closed)"
                ));
            }
        }
        let mut resp = if denials.is_empty() {
            resp
        } else {
            deny(resp, &denials.join("; "))
        };
        if !warnings.is_empty() {
            resp.warnings = Some(warnings);
        }
        resp.audit_annotations = audit.into_iter().collect();
        let elapsed = started.elapsed();
        let cache = if all_hits { "hit" } else { "miss" };
        self.metrics
            .latency
            .get_or_create(&LatencyLabel {
                endpoint: "validate".into(),
                cache: cache.into(),
            })
            .observe(elapsed.as_secs_f64());
        let images: Vec<&str> = work
            .iter()
            .map(|w| w.by_digest.as_deref().unwrap_or(&w.image))
            .collect();
        tracing::info!(
            target: "vouch_admission::decision",
            endpoint = "validate",
            uid = %req.uid,
            namespace = %ctx.namespace,
            kind = %ctx.kind,
            name = %ctx.name,
            verdict = verdict.as_str(),
            images = ?images,
            policies = ?policies,
            denials = ?denials,
            cache,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "admission decision"
        );
        Ok(Answer { response: resp })
    }

    async fn decide_unverified(
        &self,
        image: &str,
        why: &Unverified,
        ctx: &DecisionContext,
    ) -> Decision {
        match self.decider.stand_in(image, why).await {
            Some(v) => {
                let mut d = self.decider.decide(image, Ok(&v), ctx);
                if d.verdict != Verdict::Allow {
                    d.reason = why.reason().to_string();
                }
                d
            }
            None => self.decider.decide(image, Err(why), ctx),
        }
    }

    fn count(&self, d: &Decision) {
        let policies: Vec<&str> = if d.policies.is_empty() {
            vec!["none"]
        } else {
            d.policies.iter().map(String::as_str).collect()
        };
        for p in policies {
            self.metrics
                .decisions
                .get_or_create(&DecisionLabel {
                    verdict: d.verdict.as_str().into(),
                    policy: p.into(),
                    reason: d.reason.clone(),
                })
                .inc();
        }
        for e in &d.exceptions_used {
            self.metrics
                .exceptions_used
                .get_or_create(&ExceptionLabel {
                    exception: e.clone(),
                })
                .inc();
        }
    }

    /// Answer an AdmissionReview body on `/mutate`: pin tags to digests, warm the cache.
    pub async fn mutate(&self, body: &[u8]) -> Result<Answer, ReviewError> {
        let started = Instant::now();
        let until = tokio::time::Instant::now() + self.config.deadline;
        let req = parse_review(body)?;
        let resp = AdmissionResponse::from(&req);
        if let Some(skip) = self.skip(&req)? {
            log_skip(Endpoint::Mutate, &req, &skip);
            return Ok(Answer { response: resp });
        }
        let (kind, sites) = Self::sites(&req)?;
        let mut ops = Vec::new();
        let mut warnings = Vec::new();
        let mut digests: HashMap<String, Result<String, String>> = HashMap::new();
        let mut all_hits = true;
        for s in &sites {
            let r = ImageRef::parse(&s.image);
            let digest = match r.digest {
                Some(d) => Ok(d.to_string()),
                None if !self.config.mutate => continue,
                None => match digests.get(&s.image) {
                    Some(d) => d.clone(),
                    None => {
                        let d = self
                            .resolve(&s.image, until)
                            .await
                            .map_err(|u| u.to_string());
                        digests.insert(s.image.clone(), d.clone());
                        d
                    }
                },
            };
            match digest {
                Ok(d) => {
                    if r.digest.is_none() {
                        ops.push(PatchOperation::Replace(ReplaceOperation {
                            path: s.pointer.clone(),
                            value: serde_json::Value::String(r.pinned(&d)),
                        }));
                    }
                    // Warm the cache for the /validate call that follows.
                    let key = self.key(&r.by_digest(&d));
                    if self.cache.get(&key).is_some() {
                        self.metrics.cache_hits.inc();
                    } else {
                        all_hits = false;
                        self.metrics.cache_misses.inc();
                        let _ = self.start(key);
                    }
                }
                Err(e) => {
                    all_hits = false;
                    warnings.push(format!("{}: {e}; not pinned to a digest", s.label()));
                }
            }
        }
        let patched = ops.len();
        let mut resp = if ops.is_empty() {
            resp
        } else {
            resp.with_patch(Patch(ops))
                .map_err(|e| ReviewError::Patch { source: e })?
        };
        if !warnings.is_empty() {
            resp.warnings = Some(warnings);
        }
        let elapsed = started.elapsed();
        let cache = if all_hits { "hit" } else { "miss" };
        self.metrics
            .latency
            .get_or_create(&LatencyLabel {
                endpoint: "mutate".into(),
                cache: cache.into(),
            })
            .observe(elapsed.as_secs_f64());
        tracing::info!(
            target: "vouch_admission::decision",
            endpoint = "mutate",
            uid = %req.uid,
            namespace = %req.namespace.clone().unwrap_or_default(),
            kind = kind.kind(),
            name = %req.object.as_ref().and_then(|o| o.metadata.name.clone()).unwrap_or_default(),
            images = sites.len(),
            pinned = patched,
            cache,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "admission mutation"
        );
        Ok(Answer { response: resp })
    }

    /// Verify `req.images` now (re-verifying cached ones) and wait for them until the deadline.
    pub async fn prefetch(&self, req: PrefetchRequest) -> Result<PrefetchResponse, ReviewError> {
        if req.images.len() > MAX_PREFETCH_IMAGES {
            return Err(ReviewError::TooManyImages {
                count: req.images.len(),
                limit: MAX_PREFETCH_IMAGES,
            });
        }
        let until = tokio::time::Instant::now() + self.config.deadline;
        let mut pending = Vec::new();
        for image in &req.images {
            let r = ImageRef::parse(image);
            let digest = match r.digest {
                Some(d) => Ok(d.to_string()),
                None => self.resolve(image, until).await,
            };
            match digest {
                Ok(d) => {
                    let by_digest = r.by_digest(&d);
                    let rx = self.start(self.key(&by_digest));
                    pending.push((image.clone(), Some(by_digest), Ok(rx)));
                }
                Err(e) => pending.push((image.clone(), None, Err(e.to_string()))),
            }
        }
        let mut results = Vec::new();
        for (image, digest_ref, rx) in pending {
            let mut result = PrefetchResult {
                image,
                digest_ref,
                state: PrefetchState::Pending,
                passed: None,
                error: None,
            };
            match rx {
                Err(e) => {
                    result.state = PrefetchState::Error;
                    result.error = Some(e);
                }
                Ok(mut rx) => {
                    if let Ok(Ok(done)) =
                        tokio::time::timeout_at(until, rx.wait_for(Option::is_some)).await
                    {
                        match done.as_ref() {
                            Some(Ok(v)) => {
                                result.state = PrefetchState::Verified;
                                result.passed = Some(v.passed);
                            }
                            Some(Err(f)) => {
                                result.state = PrefetchState::Error;
                                result.error = Some(f.to_string());
                            }
                            None => {}
                        }
                    }
                }
            }
            results.push(result);
        }
        Ok(PrefetchResponse { results })
    }

    /// One refresher pass: drop dead entries, re-verify the ones about to expire.
    pub fn refresh_once(&self) -> usize {
        let due = self.cache.due_for_refresh(&self.decider.cache_key_parts());
        let n = due.len();
        for key in due {
            let _ = self.start(key);
        }
        n
    }
}

impl<D: ImageDecider> Webhook<D> {
    /// Run [`Webhook::refresh_once`] every `interval` until the webhook is dropped.
    pub fn spawn_refresher(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(w) = weak.upgrade() else { break };
                let n = w.refresh_once();
                if n > 0 {
                    tracing::debug!(
                        count = n,
                        "re-verifying cached images before their TTL ends"
                    );
                }
            }
        })
    }
}

/// An audit annotation key the API server accepts: it prefixes the webhook's name and a `/`,
/// so the key itself must be a qualified name's name part (at most 63 characters of
/// `[A-Za-z0-9._-]`, alphanumeric at both ends). Other characters become `.`.
pub fn annotation_key(k: &str) -> String {
    let mapped: String = k
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '.'
            }
        })
        .take(63)
        .collect();
    let trimmed = mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.is_empty() {
        "annotation".into()
    } else {
        trimmed.to_string()
    }
}

fn log_skip(endpoint: Endpoint, req: &AdmissionRequest<DynamicObject>, skip: &Skip) {
    tracing::info!(
        target: "vouch_admission::decision",
        endpoint = endpoint.as_str(),
        uid = %req.uid,
        namespace = %req.namespace.clone().unwrap_or_default(),
        kind = %req.kind.kind,
        name = %req.name,
        verdict = "allow",
        skipped = skip.label(),
        detail = ?skip,
        "admission skipped"
    );
}

#[cfg(test)]
mod tests {
    use super::annotation_key;

    #[test]
    fn annotation_keys() {
        assert_eq!(
            annotation_key("vouch.dev/policy-digest"),
            "vouch.dev.policy-digest"
        );
        assert_eq!(annotation_key("resolved-images"), "resolved-images");
        assert_eq!(annotation_key("/x/"), "x");
        assert_eq!(annotation_key(&"a".repeat(100)).len(), 63);
        assert_eq!(annotation_key("//"), "annotation");
    }
}
