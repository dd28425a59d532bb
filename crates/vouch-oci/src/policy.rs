//! Rego policies over attestations, as cosign's `verify-attestation --policy` evaluates them:
//! the input is the verified in-toto statement and `data.signature.allow` must be `true`.
//! Policies in Rego v1 syntax are accepted, and v0 syntax (as in cosign's documentation) too.
//! Needs the `rego` feature (on by default; the engine is `regorus`).

/// Evaluate `rego` (named `name` in messages) against `input`: `Ok(())` when
/// `data.signature.allow` is `true`, else the reason.
#[cfg(feature = "rego")]
pub fn evaluate_rego(name: &str, rego: &str, input: &serde_json::Value) -> Result<(), String> {
    let load = |v0: bool| -> Result<regorus::Engine, String> {
        let mut e = regorus::Engine::new();
        e.set_rego_v0(v0);
        e.add_policy(name.to_string(), rego.to_string())
            .map_err(|err| format!("policy {name}: {err}"))?;
        Ok(e)
    };
    let mut engine = match load(false) {
        Ok(e) => e,
        Err(v1_err) => load(true).map_err(|_| v1_err)?,
    };
    let input = regorus::Value::from_json_str(&input.to_string())
        .map_err(|e| format!("policy input: {e}"))?;
    engine.set_input(input);
    let allow = engine
        .eval_rule("data.signature.allow".to_string())
        .map_err(|e| format!("policy {name}: cannot evaluate data.signature.allow: {e}"))?;
    match allow.as_bool() {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("policy {name}: data.signature.allow is false")),
        Err(_) => Err(format!(
            "policy {name}: data.signature.allow is undefined (the policy must define `allow` in `package signature`)"
        )),
    }
}

/// Without the `rego` feature, policies cannot be evaluated.
#[cfg(not(feature = "rego"))]
pub fn evaluate_rego(name: &str, _rego: &str, _input: &serde_json::Value) -> Result<(), String> {
    Err(format!(
        "policy {name}: this build has no Rego engine (vouch-oci feature `rego`)"
    ))
}

#[cfg(all(test, feature = "rego"))]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn allow_and_deny() {
        let st = json!({"predicateType": "https://cyclonedx.org/bom", "predicate": {"specVersion": "1.5"}});
        let v1 = "package signature\nimport rego.v1\ndefault allow := false\nallow if input.predicate.specVersion == \"1.5\"\n";
        assert!(evaluate_rego("v1.rego", v1, &st).is_ok());
        let v0 = "package signature\ndefault allow = false\nallow { input.predicateType == \"https://cyclonedx.org/bom\" }\n";
        assert!(evaluate_rego("v0.rego", v0, &st).is_ok());
        let deny = "package signature\ndefault allow := false\nallow if input.predicate.specVersion == \"1.4\"\n";
        let err = evaluate_rego("deny.rego", deny, &st).unwrap_err();
        assert!(err.contains("allow is false"), "{err}");
        let undefined = "package other\nallow := true\n";
        let err = evaluate_rego("u.rego", undefined, &st).unwrap_err();
        assert!(err.contains("data.signature.allow"), "{err}");
        assert!(evaluate_rego("bad.rego", "package signature\nallow if {", &st).is_err());
    }
}
