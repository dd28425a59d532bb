//! Runs every sigstore-conformance `bundle-verify` case through vouch and through
//! sigstore-rust's `sigstore-verify`, in artifact-bytes mode and in digest mode.
//!
//! Fails when vouch's verdict differs from the conformance expectation, when vouch
//! differs from sigstore-rust on a case where sigstore-rust is right, or when the
//! allow-list of sigstore-rust's wrong verdicts is incomplete or stale.
//! Needs `../shared/testdata` (present in CI); skips with a message when it is absent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;
use vouch_crosscheck::{Input, sigstore_rust_verdict, vouch_verdict};

/// Cases (and input modes; `None` = both) where sigstore-rust itself gives the wrong
/// verdict versus the conformance expectation, each with the reason:
/// `("case-name_fail", None, "why sigstore-rust is wrong")`. vouch must still give the
/// expected verdict on them. The list must be exact: an unlisted wrong verdict, or a
/// listed case that sigstore-rust now gets right, fails the test.
///
/// Empty for sigstore-verify 0.15.1: it supports managed keys
/// (`PublicKeyVerificationPolicy`) and digest input, and gets all 70 cases right in
/// both modes.
const SIGSTORE_RUST_WRONG: &[(&str, Option<Input>, &str)] = &[];

fn allow_listed(name: &str, input: Input) -> Option<&'static str> {
    SIGSTORE_RUST_WRONG
        .iter()
        .find(|(n, m, _)| *n == name && m.is_none_or(|m| m == input))
        .map(|(_, _, why)| *why)
}

fn show(v: &Result<(), String>) -> &'static str {
    if v.is_ok() { "pass" } else { "fail" }
}

#[test]
fn vouch_agrees_with_sigstore_rust() {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/testdata/conformance/bundle-verify"
    ));
    if !dir.is_dir() {
        vouch_testkit::skip(format_args!(
            "{} not found (CI provides ../shared/testdata)",
            dir.display()
        ));
        return;
    }
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(
        names.len() >= 70,
        "expected at least 70 cases, found {}",
        names.len()
    );

    let (mut total, mut agree, mut rust_wrong) = (0usize, 0usize, 0usize);
    let mut problems = Vec::new();
    println!("case | expected | vouch | sigstore-rust");
    for name in &names {
        let case = dir.join(name);
        let expected_ok = !name.ends_with("_fail");
        for input in [Input::Bytes, Input::Digest] {
            total += 1;
            let label = format!("{name} [{}]", input.label());
            let v = vouch_verdict(&case, input);
            let r = sigstore_rust_verdict(&case, input);
            let expected = if expected_ok { "pass" } else { "fail" };
            println!("{label} | {expected} | {} | {}", show(&v), show(&r));
            if let (Err(ve), Err(re)) = (&v, &r) {
                println!("    vouch: {ve}\n    sigstore-rust: {re}");
            } else if let Err(e) = v.as_ref().and(r.as_ref()) {
                println!("    rejected: {e}");
            }
            if v.is_ok() != expected_ok {
                problems.push(format!(
                    "{label}: vouch {} but expected {expected} ({v:?})",
                    show(&v)
                ));
            }
            if v.is_ok() == r.is_ok() {
                agree += 1;
            }
            let allowed = allow_listed(name, input);
            if r.is_ok() == expected_ok {
                if v.is_ok() != r.is_ok() {
                    problems.push(format!(
                        "{label}: vouch {} but sigstore-rust {} (which matches the expectation); vouch: {v:?}",
                        show(&v),
                        show(&r)
                    ));
                }
                if allowed.is_some() {
                    problems.push(format!(
                        "{label}: allow-listed but sigstore-rust now gives the expected verdict; remove it"
                    ));
                }
            } else {
                rust_wrong += 1;
                match allowed {
                    Some(why) => println!("    allow-listed (sigstore-rust wrong: {r:?}): {why}"),
                    None => problems.push(format!(
                        "{label}: sigstore-rust gives the wrong verdict ({r:?}) and the case is not allow-listed"
                    )),
                }
            }
        }
    }
    println!(
        "({} case dirs x 2 inputs: artifact bytes, sha256 digest)",
        names.len()
    );
    println!(
        "cross-check: {total} cases, vouch==sigstore-rust on {agree}, sigstore-rust wrong on {rust_wrong} (allow-listed)"
    );
    assert!(
        problems.is_empty(),
        "{} cross-check problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
