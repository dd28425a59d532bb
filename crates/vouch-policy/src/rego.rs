//! Rego policies as policy-controller evaluates them (through cosign's former
//! `ValidateJSONWithModuleInput`): the module must be `package sigstore` and define
//! `isCompliant`, either a boolean or an object `{"result": bool, "warning": str,
//! "error": str}`. The input is the verified in-toto statement (attestation policies) or the
//! `authorityMatches` document (CIP-level `spec.policy`). Rego v0 syntax, as policy-controller
//! uses, is accepted, and Rego v1 too. The engine is regorus; policies are compiled once at
//! load time and cloned per evaluation.

use crate::error::BoxError;

/// The rule policy-controller queries.
pub const RULE: &str = "data.sigstore.isCompliant";

/// A compiled Rego policy.
#[derive(Clone)]
pub struct RegoPolicy {
    name: String,
    engine: regorus::Engine,
}

impl std::fmt::Debug for RegoPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegoPolicy")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// How a policy judged its input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegoOutcome {
    /// Compliant, perhaps with a warning message.
    Compliant {
        /// The policy's `warning`, if any.
        warning: Option<String>,
    },
    /// Not compliant.
    NotCompliant {
        /// The policy's `error` message, or why the rule gave no `true`.
        reason: String,
    },
}

impl RegoPolicy {
    /// Compile `text` (named `name` in messages), Rego v1 first, then v0.
    pub fn compile(name: &str, text: &str) -> Result<Self, BoxError> {
        let load = |v0: bool| -> Result<regorus::Engine, BoxError> {
            let mut e = regorus::Engine::new();
            e.set_rego_v0(v0);
            e.add_policy(format!("{name}.rego"), text.to_string())
                .map_err(BoxError::from)?;
            Ok(e)
        };
        let engine = match load(false) {
            Ok(e) => e,
            Err(v1_err) => load(true).map_err(|_| v1_err)?,
        };
        Ok(Self {
            name: name.to_string(),
            engine,
        })
    }

    /// Evaluate over `input`.
    pub fn evaluate<T: serde::Serialize>(&self, input: &T) -> RegoOutcome {
        let not = |reason: String| RegoOutcome::NotCompliant { reason };
        let json = match serde_json::to_string(input) {
            Ok(j) => j,
            Err(e) => return not(format!("policy input: {e}")),
        };
        let input = match regorus::Value::from_json_str(&json) {
            Ok(v) => v,
            Err(e) => return not(format!("policy input: {e}")),
        };
        let mut engine = self.engine.clone();
        engine.set_input(input);
        let value = match engine.eval_rule(RULE.to_string()) {
            Ok(v) => v,
            Err(e) => return not(format!("cannot evaluate {RULE}: {e}")),
        };
        if let Ok(b) = value.as_bool() {
            return if *b {
                RegoOutcome::Compliant { warning: None }
            } else {
                not(format!("{RULE} is false"))
            };
        }
        let field = |k: &str| -> Option<regorus::Value> {
            value
                .as_object()
                .ok()?
                .get(&regorus::Value::from(k))
                .cloned()
        };
        if value.as_object().is_ok() {
            let text = |k: &str| {
                field(k)
                    .and_then(|v| v.as_string().ok().map(|s| s.to_string()))
                    .filter(|s| !s.is_empty())
            };
            let result = field("result").and_then(|v| v.as_bool().ok().copied());
            return match result {
                Some(true) => RegoOutcome::Compliant {
                    warning: text("warning"),
                },
                _ => not(text("error").unwrap_or_else(|| format!("{RULE}.result is not true"))),
            };
        }
        not(format!(
            "{RULE} is undefined (the policy must be `package sigstore` and define isCompliant)"
        ))
    }

    /// The name used in messages.
    pub fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bool_object_and_undefined() {
        // The input of attestation policies: the verified statement.
        let input: vouch_core::intoto::Statement = serde_json::from_str(
            r#"{"_type": "https://in-toto.io/Statement/v1", "predicateType": "https://slsa.dev/provenance/v1", "predicate": {"builder": "ci"}}"#,
        )
        .unwrap();
        let v0 = "package sigstore\ndefault isCompliant = false\nisCompliant { input.predicate.builder == \"ci\" }\n";
        let p = RegoPolicy::compile("v0", v0).unwrap();
        assert_eq!(p.evaluate(&input), RegoOutcome::Compliant { warning: None });
        let v1 = "package sigstore\ndefault isCompliant := false\nisCompliant if input.predicate.builder == \"other\"\n";
        let p = RegoPolicy::compile("v1", v1).unwrap();
        assert!(matches!(
            p.evaluate(&input),
            RegoOutcome::NotCompliant { .. }
        ));
        let obj = "package sigstore\nisCompliant := {\"result\": false, \"error\": \"builder is not trusted\"}\n";
        let p = RegoPolicy::compile("obj", obj).unwrap();
        assert_eq!(
            p.evaluate(&input),
            RegoOutcome::NotCompliant {
                reason: "builder is not trusted".into()
            }
        );
        let warn =
            "package sigstore\nisCompliant := {\"result\": true, \"warning\": \"old builder\"}\n";
        let p = RegoPolicy::compile("warn", warn).unwrap();
        assert_eq!(
            p.evaluate(&input),
            RegoOutcome::Compliant {
                warning: Some("old builder".into())
            }
        );
        let other = RegoPolicy::compile("other", "package other\nallow := true\n").unwrap();
        assert!(matches!(
            other.evaluate(&input),
            RegoOutcome::NotCompliant { .. }
        ));
        assert!(RegoPolicy::compile("bad", "package sigstore\nisCompliant if {").is_err());
    }
}
