//! Auditing a registry prefix (`registry.local:5000/team-a/`): every repository under it from
//! the catalog, every tag (the cosign and referrers-fallback tags excepted), each distinct
//! digest once. Signatures and attestations are fetched in both layouts (referrers, the
//! referrers tag schema, cosign's `.sig`/`.att` tags) and verified offline; requests are
//! counted and the number of images is bounded.

use crate::AuditError;
use crate::facts::{ArtifactAudit, EvidenceChecker};
use std::collections::BTreeMap;
use vouch_oci::layout::Kind;
use vouch_oci::{Reference, Registry};
use vouch_policy::{Engine, EvalContext, ImageRef, SignatureSource};

/// What to audit: a registry host and a repository prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// `host[:port]`.
    pub registry: String,
    /// Repository prefix (`team-a/`), empty for the whole registry.
    pub prefix: String,
}

impl Scope {
    /// Parse `registry.local:5000/team-a/` (or a bare registry, or one repository).
    pub fn parse(s: &str) -> Self {
        let s = s
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        match s.split_once('/') {
            Some((reg, prefix)) => Self {
                registry: reg.to_string(),
                prefix: prefix.to_string(),
            },
            None => Self {
                registry: s.to_string(),
                prefix: String::new(),
            },
        }
    }

    /// Whether `repo` is audited: its name starts with the prefix (`team-a/` covers
    /// `team-a/app`; `team-` covers `team-a/app` and `team-b/svc`).
    pub fn covers(&self, repo: &str) -> bool {
        repo.starts_with(&self.prefix)
    }
}

/// Tags that hold signatures rather than images: cosign's `sha256-<hex>.sig|.att|.sbom` and
/// the referrers tag schema's `sha256-<hex>`.
pub fn is_signature_tag(tag: &str) -> bool {
    let Some(rest) = tag.strip_prefix("sha256-") else {
        return false;
    };
    let hex_part = rest.split('.').next().unwrap_or_default();
    hex_part.len() == 64 && hex_part.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Bounds and progress for a registry audit.
pub struct RegistryAudit<'a> {
    /// The registry client (its request count is reported).
    pub registry: &'a Registry,
    /// Most images audited; more is an error rather than a silent truncation.
    pub max_images: usize,
    /// Called with (images done, images found).
    pub progress: &'a (dyn Fn(usize, usize) + Sync),
}

fn oci(e: vouch_oci::OciError) -> AuditError {
    AuditError::Registry(e)
}

impl RegistryAudit<'_> {
    /// Audit every image under `scope`.
    pub async fn run<S: SignatureSource>(
        &self,
        scope: &Scope,
        engine: &Engine<S>,
        checker: &EvidenceChecker<'_>,
        ctx: &EvalContext,
    ) -> Result<Vec<ArtifactAudit>, AuditError> {
        let anchor = Reference::with_tag(
            scope.registry.clone(),
            if scope.prefix.is_empty() {
                "library".to_string()
            } else {
                scope.prefix.trim_end_matches('/').to_string()
            },
            "latest".to_string(),
        );
        let mut repos: Vec<String> = self
            .registry
            .catalog(&anchor)
            .await
            .map_err(oci)?
            .into_iter()
            .filter(|r| scope.covers(r))
            .collect();
        repos.sort();
        // (repository, digest) → tags.
        let mut images: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for repo in &repos {
            let r = Reference::with_tag(scope.registry.clone(), repo.clone(), "latest".into());
            let mut tags = self.registry.list_tags(&r).await.map_err(oci)?;
            tags.sort();
            for tag in tags.into_iter().filter(|t| !is_signature_tag(t)) {
                let tr = Reference::with_tag(scope.registry.clone(), repo.clone(), tag.clone());
                let resolved = self.registry.resolve(&tr).await.map_err(oci)?;
                images
                    .entry((repo.clone(), resolved.digest))
                    .or_default()
                    .push(tag);
                if images.len() > self.max_images {
                    return Err(AuditError::TooManyImages {
                        max: self.max_images,
                    });
                }
            }
        }
        let total = images.len();
        let mut out = Vec::with_capacity(total);
        for (i, ((repo, digest), tags)) in images.into_iter().enumerate() {
            (self.progress)(i, total);
            let repository = format!("{}/{repo}", scope.registry);
            let name = format!("{repository}@{digest}");
            let r = Reference::with_digest(scope.registry.clone(), repo.clone(), digest.clone());
            let mut evidence = Vec::new();
            for kind in [Kind::Signature, Kind::Attestation] {
                let found = vouch_oci::verify::discover(self.registry, &r, kind, None)
                    .await
                    .map_err(oci)?;
                evidence.extend(found.iter().map(|f| checker.check_found(f, &digest)));
            }
            let image = ImageRef::with_digest(&name, &digest)
                .map_err(|source| AuditError::ImageRef { source })?;
            let decision = engine.evaluate_image(&image, ctx).await;
            out.push(ArtifactAudit::new(
                name, repository, tags, evidence, &decision,
            ));
        }
        (self.progress)(total, total);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_and_signature_tags() {
        let s = Scope::parse("registry.local:5000/team-a/");
        assert_eq!(s.registry, "registry.local:5000");
        assert!(s.covers("team-a/app"));
        assert!(!s.covers("team-ab/app"));
        assert!(Scope::parse("r:5000/team-").covers("team-b/svc"));
        assert!(Scope::parse("127.0.0.1:5000").covers("x/y"));
        let d = "0".repeat(64);
        assert!(is_signature_tag(&format!("sha256-{d}.sig")));
        assert!(is_signature_tag(&format!("sha256-{d}")));
        assert!(!is_signature_tag("v1.2"));
    }
}
