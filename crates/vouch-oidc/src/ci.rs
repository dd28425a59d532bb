//! CI-style machine tokens: claims that mimic GitHub Actions, GitLab CI and Buildkite
//! (test and private-deployment facility).

use serde_json::{Map, Value};

/// Most claims a CI token request may set.
const MAX_CLAIMS: usize = 64;
/// Longest claim name / value accepted.
const MAX_NAME: usize = 64;
const MAX_VALUE: usize = 1024;
/// Claims the IdP always sets itself.
const RESERVED: &[&str] = &["iss", "aud", "exp", "iat", "nbf"];
/// A default commit SHA.
const DEFAULT_SHA: &str = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3";

/// The CI systems whose tokens the IdP can mimic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CiKind {
    /// GitHub Actions (`token.actions.githubusercontent.com` claims; CA type
    /// `github-workflow`).
    ///
    /// Defaults: `repository` `octo-org/octo-repo`, `ref` `refs/heads/main`, `event_name`
    /// `push`, `workflow` `release`, `workflow_ref` / `job_workflow_ref`
    /// `<repository>/.github/workflows/release.yml@<ref>`, `sha` / `workflow_sha` /
    /// `job_workflow_sha`, `repository_owner` (from `repository`), `repository_id`,
    /// `repository_owner_id`, `repository_visibility` `private`, `run_id`, `run_number`,
    /// `run_attempt`, `runner_environment` `github-hosted`, `actor`, `ref_type`; `sub`
    /// `repo:<repository>:ref:<ref>` (or `:environment:<environment>`, `:pull_request`).
    GithubActions,
    /// GitLab CI (`gitlab.com` claims; CA type `gitlab-pipeline`).
    ///
    /// Defaults: `namespace_path` `group`, `project_path` `<namespace_path>/project`,
    /// `ref` `main`, `ref_type` `branch`, `pipeline_source` `push`, `ci_config_ref_uri`
    /// `<idp host>/<project_path>//.gitlab-ci.yml@refs/heads/<ref>`, `sha` / `ci_config_sha`,
    /// `project_id`, `namespace_id`, `job_id`, `pipeline_id`, `runner_id` (an integer),
    /// `project_visibility` `private`,
    /// `runner_environment` `gitlab-hosted`, `user_login`; `sub`
    /// `project_path:<project_path>:ref_type:<ref_type>:ref:<ref>`.
    Gitlab,
    /// Buildkite (`agent.buildkite.com` claims; CA type `buildkite-job`).
    ///
    /// Defaults: `organization_slug` `example-org`, `pipeline_slug` `example-pipeline`,
    /// `build_number`, `build_branch` `main`, `build_commit`, `step_key` `build`, `job_id`,
    /// `agent_id`; `sub` `organization:<org>:pipeline:<pipeline>:ref:refs/heads/<branch>:commit:<commit>:step:<step>`.
    Buildkite,
}

impl CiKind {
    /// Every kind.
    pub const ALL: [CiKind; 3] = [CiKind::GithubActions, CiKind::Gitlab, CiKind::Buildkite];

    /// The name used in requests and in the issuer URL (`github-actions`, `gitlab`,
    /// `buildkite`).
    pub fn as_str(self) -> &'static str {
        match self {
            CiKind::GithubActions => "github-actions",
            CiKind::Gitlab => "gitlab",
            CiKind::Buildkite => "buildkite",
        }
    }

    /// The CA issuer `Type` that maps these claims (`github-workflow`, `gitlab-pipeline`,
    /// `buildkite-job`).
    pub fn issuer_type(self) -> &'static str {
        match self {
            CiKind::GithubActions => "github-workflow",
            CiKind::Gitlab => "gitlab-pipeline",
            CiKind::Buildkite => "buildkite-job",
        }
    }
}

impl std::str::FromStr for CiKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "github-actions" | "github" => Ok(CiKind::GithubActions),
            "gitlab" | "gitlab-ci" => Ok(CiKind::Gitlab),
            "buildkite" => Ok(CiKind::Buildkite),
            _ => Err(format!(
                "unknown CI kind {s:?} (expected github-actions, gitlab or buildkite)"
            )),
        }
    }
}

impl std::fmt::Display for CiKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Claims being built: the overrides, with defaults filled in.
struct Claims(Map<String, Value>);

impl Claims {
    /// The claim as a string (numbers and booleans stringified), if present and not null.
    fn get(&self, k: &str) -> Option<String> {
        match self.0.get(k)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            v => Some(v.to_string()),
        }
    }
    /// Set `k` to `v` unless present; return the (possibly existing) value.
    fn default(&mut self, k: &str, v: impl Into<String>) -> String {
        if let Some(existing) = self.get(k) {
            return existing;
        }
        let v = v.into();
        self.0.insert(k.to_string(), Value::String(v.clone()));
        v
    }
}

/// Build the claims (without `iss`, `aud` and the times) of a CI token of `kind`:
/// `overrides` over the defaults. `host` is the IdP's `host[:port]`.
pub(crate) fn ci_claims(
    kind: CiKind,
    overrides: &Map<String, Value>,
    host: &str,
) -> Result<Map<String, Value>, String> {
    if overrides.len() > MAX_CLAIMS {
        return Err(format!("at most {MAX_CLAIMS} claims may be set"));
    }
    for (k, v) in overrides {
        if k.is_empty() || k.len() > MAX_NAME || k.chars().any(char::is_control) {
            return Err(format!("invalid claim name {k:?}"));
        }
        if RESERVED.contains(&k.as_str()) {
            return Err(format!("claim {k:?} is set by the IdP and cannot be given"));
        }
        match v {
            Value::String(s) if s.len() <= MAX_VALUE => {}
            Value::Number(_) | Value::Bool(_) | Value::Null => {}
            _ => {
                return Err(format!(
                    "claim {k:?} must be a string (≤ {MAX_VALUE} bytes), number or boolean"
                ));
            }
        }
    }
    let mut c = Claims(overrides.clone());
    match kind {
        CiKind::GithubActions => {
            let repository = c.default("repository", "octo-org/octo-repo");
            let owner = repository.split('/').next().unwrap_or_default().to_string();
            let owner = c.default("repository_owner", owner);
            c.default("repository_id", "123456789");
            let owner_id = c.default("repository_owner_id", "987654321");
            c.default("repository_visibility", "private");
            let git_ref = c.default("ref", "refs/heads/main");
            let ref_type = if git_ref.starts_with("refs/tags/") {
                "tag"
            } else {
                "branch"
            };
            c.default("ref_type", ref_type);
            c.default("ref_protected", "false");
            let sha = c.default("sha", DEFAULT_SHA);
            c.default("workflow", "release");
            let workflow_ref = c.default(
                "workflow_ref",
                format!("{repository}/.github/workflows/release.yml@{git_ref}"),
            );
            let workflow_sha = c.default("workflow_sha", sha);
            c.default("job_workflow_ref", workflow_ref);
            c.default("job_workflow_sha", workflow_sha);
            let event = c.default("event_name", "push");
            c.default("run_id", "1000000001");
            c.default("run_number", "1");
            c.default("run_attempt", "1");
            c.default("runner_environment", "github-hosted");
            c.default("actor", owner);
            c.default("actor_id", owner_id);
            c.default("head_ref", "");
            c.default("base_ref", "");
            let sub = match c.get("environment").filter(|e| !e.is_empty()) {
                Some(env) => format!("repo:{repository}:environment:{env}"),
                None if event == "pull_request" => format!("repo:{repository}:pull_request"),
                None => format!("repo:{repository}:ref:{git_ref}"),
            };
            c.default("sub", sub);
        }
        CiKind::Gitlab => {
            let namespace = c.default("namespace_path", "group");
            let project = c.default("project_path", format!("{namespace}/project"));
            c.default("project_id", "1000");
            c.default("namespace_id", "2000");
            c.default("project_visibility", "private");
            let git_ref = c.default("ref", "main");
            let ref_type = c.default("ref_type", "branch");
            c.default("ref_protected", "true");
            let full_ref = if ref_type == "tag" {
                format!("refs/tags/{git_ref}")
            } else {
                format!("refs/heads/{git_ref}")
            };
            c.default("ref_path", full_ref.clone());
            let sha = c.default("sha", DEFAULT_SHA);
            c.default("pipeline_source", "push");
            c.default("pipeline_id", "3000");
            c.default("job_id", "4000");
            c.default(
                "ci_config_ref_uri",
                format!("{host}/{project}//.gitlab-ci.yml@{full_ref}"),
            );
            c.default("ci_config_sha", sha);
            c.default("runner_environment", "gitlab-hosted");
            // An integer in GitLab's tokens (Fulcio decodes it as one): a numeric override
            // given as a string (`--claim runner_id=7`) is sent as a number.
            let runner_id = match c.0.get("runner_id") {
                Some(Value::String(s)) => s
                    .parse::<u64>()
                    .map_or_else(|_| Value::String(s.clone()), Value::from),
                Some(v) if !v.is_null() => v.clone(),
                _ => Value::from(1u64),
            };
            c.0.insert("runner_id".into(), runner_id);
            c.default("user_login", "ci-user");
            c.default("user_id", "1");
            c.default("user_email", "ci-user@example.test");
            c.default(
                "sub",
                format!("project_path:{project}:ref_type:{ref_type}:ref:{git_ref}"),
            );
        }
        CiKind::Buildkite => {
            let org = c.default("organization_slug", "example-org");
            let pipeline = c.default("pipeline_slug", "example-pipeline");
            c.default("build_number", "1");
            let branch = c.default("build_branch", "main");
            let commit = c.default("build_commit", DEFAULT_SHA);
            c.default("build_source", "webhook");
            let step = c.default("step_key", "build");
            c.default("job_id", "0190c8d7-0000-4000-8000-000000000001");
            c.default("agent_id", "0190c8d7-0000-4000-8000-000000000002");
            c.default(
                "sub",
                format!(
                    "organization:{org}:pipeline:{pipeline}:ref:refs/heads/{branch}:commit:{commit}:step:{step}"
                ),
            );
        }
    }
    // A null override means "the default"; none remain, but never emit nulls.
    c.0.retain(|_, v| !v.is_null());
    Ok(c.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_defaults_and_overrides() {
        let mut o = Map::new();
        o.insert("repository".into(), Value::from("acme/widget"));
        o.insert("ref".into(), Value::from("refs/tags/v1.0.0"));
        let c = ci_claims(CiKind::GithubActions, &o, "h").unwrap_or_default();
        assert_eq!(c["repository_owner"], "acme");
        assert_eq!(c["ref_type"], "tag");
        assert_eq!(
            c["job_workflow_ref"],
            "acme/widget/.github/workflows/release.yml@refs/tags/v1.0.0"
        );
        assert_eq!(c["sub"], "repo:acme/widget:ref:refs/tags/v1.0.0");
        o.insert("iss".into(), Value::from("x"));
        assert!(ci_claims(CiKind::GithubActions, &o, "h").is_err());
    }

    #[test]
    fn gitlab_and_buildkite() {
        let c = ci_claims(CiKind::Gitlab, &Map::new(), "idp:1").unwrap_or_default();
        assert_eq!(
            c["ci_config_ref_uri"],
            "idp:1/group/project//.gitlab-ci.yml@refs/heads/main"
        );
        assert_eq!(
            c["sub"],
            "project_path:group/project:ref_type:branch:ref:main"
        );
        assert_eq!(c["runner_id"], Value::from(1));
        let mut o = Map::new();
        o.insert("runner_id".into(), Value::from("42"));
        let c = ci_claims(CiKind::Gitlab, &o, "h").unwrap_or_default();
        assert_eq!(c["runner_id"], Value::from(42));
        let c = ci_claims(CiKind::Buildkite, &Map::new(), "h").unwrap_or_default();
        assert!(
            c["sub"]
                .as_str()
                .unwrap_or_default()
                .starts_with("organization:example-org:pipeline:example-pipeline:")
        );
        assert_eq!("gitlab".parse::<CiKind>(), Ok(CiKind::Gitlab));
        assert!("jenkins".parse::<CiKind>().is_err());
    }
}
