//! Air-gapped operation, run as a user runs it: `vouch copy`, `save`, `load`, `clean`,
//! `attach` and `--offline`, against real registries (Debian's `docker-registry`) and a real
//! `vouch up`.
//!
//! * `copy_clean_attach_save_load`: a multi-platform image signed and attested in both
//!   layouts, with an SBOM, is copied between two registries with every digest preserved
//!   (image, platform manifests, `.sig`/`.att`/`.sbom` tags, referrers and their index);
//!   `--platform`, `--only`, `--force`; `save`/`load` round trip and `verify --local-image`;
//!   `clean` removes exactly the named artifacts; cosign's legacy `.sbom` attach round trip;
//!   `attach signature`/`attestation`; `--offline` refuses a reachable TUF mirror by name.
//! * `air_gapped_end_to_end`: two network namespaces made by the test (`ip netns`, veth):
//!   the isolated one holds registry B and has no route to the connected side. There:
//!   `load`, `trust import`, `verify --offline`, `verify-attestation --offline`, `policy check
//!   --offline` pass, a tampered layout fails, and a packet capture (tcpdump) on every
//!   interface of the isolated namespace shows no packet to any address but registry B.
//!   SKIP when namespaces cannot be made (not root) or tcpdump/iproute2 are missing.
//! * `upgrade_bundles_save_load_offline`: a legacy-signed and -attested image (SET only) is
//!   saved with `--upgrade-bundles` (and copied with it, idempotently), loaded into another
//!   registry and verified `--offline` with the fetched inclusion proofs (`proof_verified`);
//!   the upgraded bundles carry the legacy signature bytes; a tampered proof and a log that
//!   returns another entry than the SET signs are refused by name.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::registry::{
    TestRegistry, push_image, registry_bin_or_skip, registry_config, start_registry,
};
use common::up::start_up;
use common::{cosign_key_pair as key_pair, fails_with as fails, ok_stderr as ok, run, vouch};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use vouch_oci::oci_spec::image::{
    Arch, Descriptor, ImageIndexBuilder, MediaType, Os, PlatformBuilder,
};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The digest `name` (a tag or digest) resolves to in `repo` (`host/repository`), if any.
fn digest_of(repo: &str, name: &str) -> Option<String> {
    let sep = if name.starts_with("sha256:") {
        "@"
    } else {
        ":"
    };
    let r = vouch_oci::parse_reference(&format!("{repo}{sep}{name}")).unwrap();
    rt().block_on(async {
        let c = vouch_oci::Registry::new(vouch_oci::RegistryOptions::default()).unwrap();
        c.get_manifest(&r).await.unwrap().map(|m| m.digest)
    })
}

/// The raw manifest `name` in `repo`.
fn manifest(repo: &str, name: &str) -> Option<Vec<u8>> {
    let sep = if name.starts_with("sha256:") {
        "@"
    } else {
        ":"
    };
    let r = vouch_oci::parse_reference(&format!("{repo}{sep}{name}")).unwrap();
    rt().block_on(async {
        let c = vouch_oci::Registry::new(vouch_oci::RegistryOptions::default()).unwrap();
        c.get_manifest(&r).await.unwrap().map(|m| m.bytes)
    })
}

/// The referrer digests listed in the fallback index of `digest` in `repo`.
fn referrers(repo: &str, digest: &str) -> Vec<String> {
    match manifest(repo, &fallback(digest)) {
        None => Vec::new(),
        Some(b) => {
            let idx: vouch_oci::oci_spec::image::ImageIndex = serde_json::from_slice(&b).unwrap();
            idx.manifests()
                .iter()
                .map(|d| d.digest().to_string())
                .collect()
        }
    }
}

fn fallback(digest: &str) -> String {
    digest.replacen(':', "-", 1)
}

/// Push a two-platform index over two one-layer images to `addr/repo:tag`.
fn push_index(addr: &str, repo: &str, tag: &str) -> (String, String, String) {
    let amd = push_image(addr, repo, "amd64", b"amd64 layer");
    let arm = push_image(addr, repo, "arm64", b"arm64 layer");
    let entry = |digest: &str, arch: Arch| -> Descriptor {
        let size = manifest(&format!("{addr}/{repo}"), digest).unwrap().len();
        let mut d = Descriptor::new(
            MediaType::ImageManifest,
            size as u64,
            digest
                .parse::<vouch_oci::oci_spec::image::Digest>()
                .unwrap(),
        );
        d.set_platform(Some(
            PlatformBuilder::default()
                .os(Os::Linux)
                .architecture(arch)
                .build()
                .unwrap(),
        ));
        d
    };
    let idx = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![entry(&amd, Arch::Amd64), entry(&arm, Arch::ARM64)])
        .build()
        .unwrap()
        .to_string()
        .unwrap();
    let r = vouch_oci::parse_reference(&format!("{addr}/{repo}:{tag}")).unwrap();
    let (d, _) = rt().block_on(async {
        let c = vouch_oci::Registry::new(vouch_oci::RegistryOptions::default()).unwrap();
        c.put_manifest(&r, tag, idx.as_bytes(), vouch_oci::registry::OCI_INDEX)
            .await
            .unwrap()
    });
    (d, amd, arm)
}

/// Everything attached to the entities `digests` in `repo`: (name, digest) of the fallback
/// index, `.sig`, `.att`, `.sbom` tags, and each referrer.
fn attachments(repo: &str, digests: &[&str]) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for d in digests {
        out.push((d.to_string(), digest_of(repo, d)));
        let f = fallback(d);
        out.push((f.clone(), digest_of(repo, &f)));
        for s in ["sig", "att", "sbom"] {
            let t = format!("{f}.{s}");
            out.push((t.clone(), digest_of(repo, &t)));
        }
        for r in referrers(repo, d) {
            out.push((format!("referrer {r}"), digest_of(repo, &r)));
        }
    }
    out
}

struct Signing {
    tc: PathBuf,
    key: PathBuf,
    pubkey: PathBuf,
}

impl Signing {
    fn sign(&self, image: &str, extra: &[&str]) {
        let out = run(vouch()
            .arg("sign")
            .arg(image)
            .args(["-y", "--key"])
            .arg(&self.key)
            .arg("--trust-config")
            .arg(&self.tc)
            .args(extra)
            .env("COSIGN_PASSWORD", "pw"));
        ok(&out, &format!("sign {image} {extra:?}"));
    }
    fn attest(&self, image: &str, predicate: &Path, extra: &[&str]) {
        let out = run(vouch()
            .arg("attest")
            .arg(image)
            .arg("--predicate")
            .arg(predicate)
            .args(["--type", "cyclonedx", "-y", "--key"])
            .arg(&self.key)
            .arg("--trust-config")
            .arg(&self.tc)
            .args(extra)
            .env("COSIGN_PASSWORD", "pw"));
        ok(&out, &format!("attest {image} {extra:?}"));
    }
    fn verify(&self, cmd: &str, image: &str, extra: &[&str]) -> Output {
        run(vouch()
            .arg(cmd)
            .arg(image)
            .arg("--key")
            .arg(&self.pubkey)
            .arg("--trust-config")
            .arg(&self.tc)
            .args(extra))
    }
}

#[test]
fn copy_clean_attach_save_load() {
    let Some(bin) = registry_bin_or_skip("copy_clean_attach_save_load") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = start_registry(&bin, &d.join("a"));
    let b = start_registry(&bin, &d.join("b"));
    let inst = start_up(&d.join("data"), 0, &d.join("up.log"));
    let (key, pubkey) = key_pair(&d.join("keys"));
    let s = Signing {
        tc: inst.trust_config.clone(),
        key,
        pubkey,
    };
    let src = format!("{}/team/app", a.addr);
    let (idx, amd, arm) = push_index(&a.addr, "team/app", "v1");
    let idx_ref = format!("{src}@{idx}");

    // Signatures in both layouts (the platform manifests too), attestations in both layouts,
    // an SBOM (cosign's legacy .sbom attachment).
    s.sign(&idx_ref, &["--recursive"]);
    s.sign(&idx_ref, &["--legacy"]);
    let predicate = d.join("bom.json");
    std::fs::write(
        &predicate,
        br#"{"bomFormat":"CycloneDX","specVersion":"1.5"}"#,
    )
    .unwrap();
    s.attest(&idx_ref, &predicate, &[]);
    s.attest(&format!("{src}@{amd}"), &predicate, &["--legacy"]);
    let sbom = d.join("sbom.spdx.json");
    std::fs::write(&sbom, br#"{"spdxVersion":"SPDX-2.3","name":"app"}"#).unwrap();
    let err = ok(
        &run(vouch()
            .args(["attach", "sbom", "--sbom"])
            .arg(&sbom)
            .arg(&idx_ref)),
        "attach sbom",
    );
    assert!(err.contains("text/spdx+json"), "{err}");
    // cosign's legacy .sbom round trip: the tag holds the bytes with cosign's media type.
    let out = run(vouch().args(["download", "sbom", &idx_ref]));
    ok(&out, "download sbom");
    assert_eq!(out.stdout, std::fs::read(&sbom).unwrap());
    let sbom_manifest: vouch_oci::oci_spec::image::ImageManifest =
        serde_json::from_slice(&manifest(&src, &format!("{}.sbom", fallback(&idx))).unwrap())
            .unwrap();
    assert_eq!(
        sbom_manifest.layers()[0].media_type().to_string(),
        "text/spdx+json"
    );
    let tree = run(vouch().args(["tree", &idx_ref]));
    ok(&tree, "tree");
    assert!(
        String::from_utf8_lossy(&tree.stdout).contains("SBOMs"),
        "{}",
        String::from_utf8_lossy(&tree.stdout)
    );
    let entities = [idx.as_str(), amd.as_str(), arm.as_str()];
    let at_a = attachments(&src, &entities);
    let present = at_a.iter().filter(|(_, d)| d.is_some()).count();
    // 3 manifests, 3 fallback indexes, .sig (index), .att (amd64), .sbom (index), and 4
    // referrers (3 signatures, 1 attestation).
    assert_eq!(present, 13, "{at_a:#?}");

    // 1. copy: every digest preserved, nothing re-signed.
    let dst = format!("{}/mirror/app", b.addr);
    let err = ok(
        &run(vouch().args(["copy", &format!("{src}:v1"), &dst])),
        "copy",
    );
    assert!(err.contains("Copied:"), "{err}");
    assert_eq!(attachments(&dst, &entities), at_a, "digests after copy");
    assert_eq!(digest_of(&dst, "v1").as_deref(), Some(idx.as_str()));
    let err = ok(
        &s.verify("verify", &format!("{dst}@{idx}"), &[]),
        "verify the copy",
    );
    assert!(err.contains("Verified OK: 2 of 2"), "{err}");
    ok(
        &s.verify("verify", &format!("{dst}@{arm}"), &[]),
        "verify a copied platform manifest",
    );
    ok(
        &s.verify(
            "verify-attestation",
            &format!("{dst}@{amd}"),
            &["--type", "cyclonedx"],
        ),
        "verify-attestation of the copy (legacy)",
    );
    // Copying again is a no-op; a tag that points elsewhere needs --force.
    ok(
        &run(vouch().args(["copy", &format!("{src}:v1"), &dst])),
        "copy again",
    );
    let other = push_image(&a.addr, "team/other", "v1", b"other");
    fails(
        &run(vouch().args(["copy", &format!("{}/team/other:v1", a.addr), &dst])),
        "copy onto a moved tag",
        "--force",
    );
    ok(
        &run(vouch().args(["copy", "-f", &format!("{}/team/other:v1", a.addr), &dst])),
        "copy --force",
    );
    assert_eq!(digest_of(&dst, "v1"), Some(other));

    // 2. --platform: that platform's image and its attachments only.
    let plat = format!("{}/plat/app", b.addr);
    ok(
        &run(vouch().args([
            "copy",
            "--platform",
            "linux/arm64",
            &format!("{src}:v1"),
            &plat,
        ])),
        "copy --platform",
    );
    assert_eq!(digest_of(&plat, "v1").as_deref(), Some(arm.as_str()));
    assert_eq!(digest_of(&plat, &amd), None);
    assert_eq!(digest_of(&plat, &idx), None);
    ok(
        &s.verify("verify", &format!("{plat}@{arm}"), &[]),
        "verify --platform copy",
    );
    fails(
        &run(vouch().args(["copy", "--platform", "linux/s390x", &idx_ref, &plat])),
        "copy an absent platform",
        "platform linux/s390x",
    );

    // 3. --only=sig: signatures, no image, no attestations.
    let only = format!("{}/sigs/app", b.addr);
    ok(
        &run(vouch().args(["copy", "--only=sig", &idx_ref, &only])),
        "copy --only=sig",
    );
    assert_eq!(digest_of(&only, &idx), None);
    assert!(digest_of(&only, &format!("{}.sig", fallback(&idx))).is_some());
    assert_eq!(digest_of(&only, &format!("{}.att", fallback(&idx))), None);
    assert_eq!(
        referrers(&only, &idx).len(),
        1,
        "only the signature referrer"
    );
    fails(
        &run(vouch().args(["copy", "--only=bundle", &idx_ref, &only])),
        "bad --only",
        "sig, att, sbom",
    );

    // 4. save / load round trip, and verification straight from the layout, offline.
    let layout = d.join("transfer");
    let out = run(vouch()
        .args(["save", &format!("{src}:v1"), "--dir"])
        .arg(&layout));
    ok(&out, "save");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), idx);
    assert!(layout.join("oci-layout").is_file());
    let index: vouch_oci::oci_spec::image::ImageIndex =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert!(
        index
            .manifests()
            .iter()
            .any(|m| m.digest().to_string() == idx),
        "index.json lists the image"
    );
    let loaded = format!("{}/loaded/app", b.addr);
    let out = run(vouch().args(["load", "--dir"]).arg(&layout).arg(&loaded));
    ok(&out, "load");
    assert_eq!(
        attachments(&loaded, &entities),
        at_a,
        "digests after save/load"
    );
    assert_eq!(digest_of(&loaded, "v1").as_deref(), Some(idx.as_str()));
    for (cmd, extra) in [
        ("verify", &[][..]),
        ("verify-attestation", &["--type", "cyclonedx"][..]),
    ] {
        let mut args = vec!["--local-image", "--offline"];
        args.extend_from_slice(extra);
        let err = ok(
            &s.verify(cmd, layout.to_str().unwrap(), &args),
            &format!("{cmd} --local-image"),
        );
        assert!(err.contains("Registry requests: 0"), "{err}");
    }
    // A tampered layout (one referrer blob altered) fails to verify and to load.
    let tampered = d.join("tampered");
    copy_dir(&layout, &tampered);
    let victim = referrers(&src, &idx)
        .into_iter()
        .map(|r| {
            let m: vouch_oci::oci_spec::image::ImageManifest =
                serde_json::from_slice(&manifest(&src, &r).unwrap()).unwrap();
            m.layers()[0].digest().to_string()
        })
        .next()
        .unwrap();
    let blob = tampered
        .join("blobs/sha256")
        .join(victim.trim_start_matches("sha256:"));
    let mut bytes = std::fs::read(&blob).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    std::fs::write(&blob, bytes).unwrap();
    fails(
        &s.verify(
            "verify",
            tampered.to_str().unwrap(),
            &["--local-image", "--offline"],
        ),
        "verify a tampered layout",
        "has digest",
    );
    fails(
        &run(vouch()
            .args(["load", "--dir"])
            .arg(&tampered)
            .arg(format!("{}/tampered/app", b.addr))),
        "load a tampered layout",
        "has digest",
    );

    // 5. --offline: the registry in the reference is allowed, anything else is refused by
    //    name, even when reachable (here: the instance's own TUF mirror).
    ok(
        &s.verify("verify", &format!("{loaded}@{idx}"), &["--offline"]),
        "verify --offline",
    );
    let root_b64 = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .encode(std::fs::read(d.join("data/root.json")).unwrap())
    };
    let pol = d.join("remote-policy.yaml");
    std::fs::write(
        &pol,
        format!(
            "apiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata:\n  name: private\nspec:\n  remote:\n    mirror: {}\n    root: {root_b64}\n---\napiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: release\nspec:\n  images:\n  - glob: \"{}/**\"\n  authorities:\n  - name: ci\n    keyless:\n      url: https://ca.invalid\n      trustRootRef: private\n      identities:\n      - issuer: https://issuer.invalid\n        subject: alice@example.com\n",
            inst.urls["tuf"], b.addr
        ),
    )
    .unwrap();
    let tuf_host = inst.urls["tuf"]
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let err = fails(
        &run(vouch()
            .args(["policy", "check", "--offline", "--policy"])
            .arg(&pol)
            .arg(format!("{loaded}@{idx}"))),
        "policy check --offline with a remote TrustRoot",
        &format!("offline: TUF tried to reach {tuf_host}"),
    );
    assert!(err.contains(&format!("only {}", b.addr)), "{err}");

    // 6. clean removes exactly what it names.
    let clean = |kind: &str| {
        ok(
            &run(vouch().args(["clean", "--type", kind, "-f", &format!("{loaded}@{idx}")])),
            &format!("clean --type {kind}"),
        )
    };
    fails(
        &run(vouch().args(["clean", &format!("{loaded}@{idx}")])),
        "clean without --force and without a terminal",
        "--force",
    );
    let before = referrers(&loaded, &idx);
    let err = clean("signature");
    assert!(err.contains("Removed tag"), "{err}");
    assert_eq!(digest_of(&loaded, &format!("{}.sig", fallback(&idx))), None);
    assert!(digest_of(&loaded, &format!("{}.sbom", fallback(&idx))).is_some());
    let after = referrers(&loaded, &idx);
    assert_eq!(
        after.len(),
        before.len() - 1,
        "one signature referrer removed"
    );
    fails(
        &s.verify("verify", &format!("{loaded}@{idx}"), &[]),
        "verify after clean --type signature",
        "no signatures found",
    );
    ok(
        &s.verify(
            "verify-attestation",
            &format!("{loaded}@{idx}"),
            &["--type", "cyclonedx"],
        ),
        "attestations survive clean --type signature",
    );
    // Platform manifests were not named: their signatures stay.
    ok(
        &s.verify("verify", &format!("{loaded}@{arm}"), &[]),
        "platform signatures survive",
    );
    clean("sbom");
    assert_eq!(
        digest_of(&loaded, &format!("{}.sbom", fallback(&idx))),
        None
    );
    clean("all");
    assert_eq!(digest_of(&loaded, &fallback(&idx)), None);
    fails(
        &s.verify(
            "verify-attestation",
            &format!("{loaded}@{idx}"),
            &["--type", "cyclonedx"],
        ),
        "verify-attestation after clean --type all",
        "no attestations",
    );
    assert_eq!(
        digest_of(&loaded, &idx).as_deref(),
        Some(idx.as_str()),
        "the image stays"
    );

    // 7. attach signature / attestation made elsewhere.
    let att_repo = format!("{}/attached/app", b.addr);
    let img = push_image(&b.addr, "attached/app", "v1", b"amd64 layer");
    assert_eq!(img, amd, "same content, same digest");
    assert_eq!(
        push_image(&b.addr, "attached/app", "arm", b"arm64 layer"),
        arm
    );
    let env = run(vouch().args(["download", "attestation", &format!("{src}@{amd}")]));
    ok(&env, "download attestation");
    let envelope = d.join("att.json");
    let first = String::from_utf8_lossy(&env.stdout)
        .lines()
        .find(|l| l.contains("\"payloadType\"") && !l.contains("verificationMaterial"))
        .unwrap()
        .to_string();
    std::fs::write(&envelope, first).unwrap();
    ok(
        &run(vouch()
            .args(["attach", "attestation", "--attestation"])
            .arg(&envelope)
            .arg(format!("{att_repo}@{amd}"))),
        "attach attestation",
    );
    ok(
        &s.verify(
            "verify-attestation",
            &format!("{att_repo}@{amd}"),
            &["--type", "cyclonedx", "--insecure-ignore-tlog"],
        ),
        "verify an attached attestation",
    );
    fails(
        &run(vouch()
            .args(["attach", "attestation", "--attestation"])
            .arg(&envelope)
            .arg(format!("{att_repo}@{arm}"))),
        "attach an attestation about another image",
        "does not name the image",
    );
    let payload = d.join("payload.json");
    std::fs::write(
        &payload,
        format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"{att_repo}"}},"image":{{"docker-manifest-digest":"{amd}"}},"type":"cosign container image signature"}},"optional":null}}"#
        ),
    )
    .unwrap();
    let blob_bundle = d.join("payload.sigstore.json");
    ok(
        &run(vouch()
            .arg("sign-blob")
            .arg(&payload)
            .arg("--key")
            .arg(&s.key)
            .arg("--bundle")
            .arg(&blob_bundle)
            .args(["-y", "--tlog-upload=false", "--trust-config"])
            .arg(&s.tc)
            .env("COSIGN_PASSWORD", "pw")),
        "sign-blob the payload",
    );
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&blob_bundle).unwrap()).unwrap();
    let sig = d.join("payload.sig");
    std::fs::write(
        &sig,
        bundle["messageSignature"]["signature"].as_str().unwrap(),
    )
    .unwrap();
    ok(
        &run(vouch()
            .args(["attach", "signature", "--payload"])
            .arg(&payload)
            .arg("--signature")
            .arg(&sig)
            .arg(format!("{att_repo}@{amd}"))),
        "attach signature",
    );
    let err = ok(
        &s.verify(
            "verify",
            &format!("{att_repo}@{amd}"),
            &["--insecure-ignore-tlog"],
        ),
        "verify an attached signature",
    );
    assert!(err.contains("legacy (cosign tag)"), "{err}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

/// Network namespaces made for one test run, deleted when dropped.
struct Netns {
    names: Vec<String>,
}

impl Drop for Netns {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

fn sh(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

const ISO_ADDR: &str = "10.77.0.1";
const REG_B_ADDR: &str = "10.77.0.2";

/// Make the isolated namespace `iso` and registry B's namespace `regb`, joined by a veth
/// pair on a /30 (the only two addresses). `iso` also gets a default route through it, so
/// that a connection to any other address would leave on the wire and be captured. IPv6 is
/// off in both, so the kernel sends no router solicitations of its own.
fn make_netns(iso: &str, regb: &str) -> Result<Netns, String> {
    let mut ns = Netns { names: Vec::new() };
    for n in [iso, regb] {
        sh(&["ip", "netns", "add", n])?;
        ns.names.push(n.to_string());
    }
    let (vi, vr) = (
        format!("vi{}", std::process::id()),
        format!("vr{}", std::process::id()),
    );
    sh(&[
        "ip", "link", "add", &vi, "type", "veth", "peer", "name", &vr,
    ])?;
    sh(&["ip", "link", "set", &vi, "netns", iso])?;
    sh(&["ip", "link", "set", &vr, "netns", regb])?;
    for (n, dev, addr) in [(iso, &vi, ISO_ADDR), (regb, &vr, REG_B_ADDR)] {
        for k in ["all", "default"] {
            sh(&[
                "ip",
                "netns",
                "exec",
                n,
                "sysctl",
                "-q",
                "-w",
                &format!("net.ipv6.conf.{k}.disable_ipv6=1"),
            ])?;
        }
        sh(&[
            "ip",
            "-n",
            n,
            "addr",
            "add",
            &format!("{addr}/30"),
            "dev",
            dev,
        ])?;
        sh(&["ip", "-n", n, "link", "set", dev, "up"])?;
        sh(&["ip", "-n", n, "link", "set", "lo", "up"])?;
    }
    sh(&[
        "ip", "-n", iso, "route", "add", "default", "via", REG_B_ADDR,
    ])?;
    Ok(ns)
}

/// `docker-registry` inside namespace `ns`, listening on `addr:5000`.
fn registry_in(bin: &Path, ns: &str, dir: &Path) -> Child {
    let config = registry_config(dir, &format!("{REG_B_ADDR}:5000"));
    let log = std::fs::File::create(dir.join("registry.log")).unwrap();
    Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(bin)
        .arg("serve")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A command run inside namespace `ns`.
fn in_ns(ns: &str, program: &Path) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).arg(program);
    c
}

fn tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[test]
fn air_gapped_end_to_end() {
    let Some(bin) = registry_bin_or_skip("air_gapped_end_to_end") else {
        return;
    };
    let (Some(_), Some(tcpdump)) = (tool("ip"), tool("tcpdump")) else {
        vouch_testkit::skip(format_args!(
            "air_gapped_end_to_end: iproute2 and tcpdump are needed (apt-get install -y iproute2 tcpdump)"
        ));
        return;
    };
    let pid = std::process::id();
    let (iso, regb) = (format!("vouch-iso-{pid}"), format!("vouch-regb-{pid}"));
    let _ns = match make_netns(&iso, &regb) {
        Ok(ns) => ns,
        Err(e) => {
            vouch_testkit::skip(format_args!(
                "air_gapped_end_to_end: cannot create network namespaces ({e}); run as root"
            ));
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // Connected side (this namespace): vouch up and registry A; sign and attest keyless in
    // both layouts; save with trust.
    let a: TestRegistry = start_registry(&bin, &d.join("a"));
    let inst = start_up(&d.join("data"), 0, &d.join("up.log"));
    let oidc = inst.urls["oidc"].clone();
    let tc = inst.trust_config.clone();
    let tok = inst.token("alice@example.com");
    let digest = push_image(&a.addr, "team/app", "v1", b"the application");
    let image = format!("{}/team/app@{digest}", a.addr);
    let predicate = d.join("provenance.json");
    std::fs::write(
        &predicate,
        br#"{"buildDefinition":{"buildType":"https://example.com/ci@v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://ci.example.com/builder"}}}"#,
    )
    .unwrap();
    for legacy in [false, true] {
        let mut sign = vouch();
        sign.arg("sign")
            .arg(&image)
            .args(["-y", "--identity-token", &tok, "--trust-config"])
            .arg(&tc);
        let mut attest = vouch();
        attest
            .arg("attest")
            .arg(&image)
            .arg("--predicate")
            .arg(&predicate)
            .args([
                "--type",
                "slsaprovenance1",
                "-y",
                "--identity-token",
                &tok,
                "--trust-config",
            ])
            .arg(&tc);
        if legacy {
            sign.arg("--legacy");
            attest.arg("--legacy");
        }
        ok(&run(&mut sign), "sign");
        ok(&run(&mut attest), "attest");
    }
    let transfer = d.join("transfer");
    ok(
        &run(vouch()
            .args(["save", &format!("{}/team/app:v1", a.addr), "--dir"])
            .arg(&transfer)),
        "save",
    );
    let trust = d.join("trust");
    ok(
        &run(vouch()
            .args(["trust", "init", "--mirror", &inst.urls["tuf"], "--root"])
            .arg(d.join("data/root.json"))
            .arg("--out")
            .arg(&trust)),
        "trust init",
    );
    ok(
        &run(vouch()
            .args(["trust", "export"])
            .arg(transfer.join("trust"))
            .arg("--from")
            .arg(&trust)),
        "trust export",
    );
    std::fs::copy(d.join("data/root.json"), d.join("root.json")).unwrap();
    let tampered = d.join("tampered");
    copy_dir(&transfer, &tampered);

    // Isolated side: registry B in its own namespace; every vouch command runs in `iso`,
    // which can reach nothing but registry B, while tcpdump captures all of `iso`'s traffic.
    let _reg_b = Killed(registry_in(&bin, &regb, &d.join("b")));
    let cap = d.join("iso.pcap");
    let mut dump = Killed(
        in_ns(&iso, &tcpdump)
            .args(["-i", "any", "-n", "-U", "-w"])
            .arg(&cap)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Wait for tcpdump to listen and registry B to answer (from inside `iso`).
    let dump_stderr = {
        use std::io::BufRead;
        let err = dump.0.stderr.take().unwrap();
        let mut lines = std::io::BufReader::new(err);
        let mut seen = String::new();
        while !seen.contains("listening on") {
            let mut l = String::new();
            assert!(lines.read_line(&mut l).unwrap() > 0, "tcpdump: {seen}");
            seen.push_str(&l);
        }
        std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = std::io::Read::read_to_string(&mut lines, &mut rest);
            rest
        })
    };
    let vouch_bin = PathBuf::from(env!("CARGO_BIN_EXE_vouch"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !in_ns(&iso, Path::new("/bin/bash"))
        .args(["-c", &format!("exec 3<>/dev/tcp/{REG_B_ADDR}/5000")])
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
    {
        assert!(Instant::now() < deadline, "registry B did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let v = || {
        let mut c = in_ns(&iso, &vouch_bin);
        c.current_dir(d).env_remove("VOUCH_TRUST_CONFIG");
        c
    };
    let mirror = format!("{REG_B_ADDR}:5000/mirror/app");
    let insecure = "--allow-insecure-registry";
    ok(
        &run(v().args([
            "trust",
            "import",
            "transfer/trust",
            "--root",
            "root.json",
            "--out",
            "iso-trust",
        ])),
        "trust import (isolated)",
    );
    let err = ok(
        &run(v().args(["load", "--dir", "transfer", &mirror, insecure])),
        "load (isolated)",
    );
    assert!(err.contains("Loaded"), "{err}");
    let pinned = format!("{mirror}@{digest}");
    let alice = [
        "--certificate-identity",
        "alice@example.com",
        "--certificate-oidc-issuer",
        oidc.as_str(),
        "--trust-config",
        "iso-trust/trust_config.json",
        "--offline",
        insecure,
    ];
    let err = ok(
        &run(v().args(["verify", &pinned]).args(alice)),
        "verify --offline (isolated)",
    );
    assert!(err.contains("Verified OK: 2 of 2"), "{err}");
    let err = ok(
        &run(v()
            .args(["verify-attestation", &pinned, "--type", "slsaprovenance1"])
            .args(alice)),
        "verify-attestation --offline (isolated)",
    );
    assert!(err.contains("Verified OK: 2 of 2"), "{err}");
    std::fs::write(
        d.join("policy.yaml"),
        format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: release\nspec:\n  images:\n  - glob: \"{REG_B_ADDR}:5000/mirror/**\"\n  authorities:\n  - name: ci\n    keyless:\n      url: https://ca.invalid\n      identities:\n      - issuer: {oidc}\n        subject: alice@example.com\n"
        ),
    )
    .unwrap();
    let err = ok(
        &run(v().args([
            "policy",
            "check",
            "--offline",
            "--policy",
            "policy.yaml",
            "--trust-config",
            "iso-trust/trust_config.json",
            insecure,
            &pinned,
        ])),
        "policy check --offline (isolated)",
    );
    assert!(err.contains("authority ci: passed"), "{err}");
    let err = ok(
        &run(v()
            .args(["verify", "--local-image", "transfer"])
            .args(&alice[..6])
            .arg("--offline")),
        "verify --local-image --offline (isolated)",
    );
    assert!(err.contains("Registry requests: 0"), "{err}");
    // A tampered layout: the signature and attestation bundles altered in transit.
    let mut altered = 0;
    for p in std::fs::read_dir(tampered.join("blobs/sha256")).unwrap() {
        let p = p.unwrap().path();
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        if text.contains("\"dsseEnvelope\"") && text.contains("verificationMaterial") {
            std::fs::write(&p, text.replacen("\"payload\":\"", "\"payload\":\"e", 1)).unwrap();
            altered += 1;
        }
    }
    assert_eq!(altered, 2, "one signature and one attestation bundle");
    fails(
        &run(v()
            .args(["verify", "--local-image", "tampered"])
            .args(&alice[..6])
            .arg("--offline")),
        "verify a tampered layout (isolated)",
        "has digest",
    );
    fails(
        &run(v().args([
            "load",
            "--dir",
            "tampered",
            &format!("{REG_B_ADDR}:5000/bad/app"),
            insecure,
        ])),
        "load a tampered layout (isolated)",
        "has digest",
    );

    // The capture: traffic to registry B, and nothing else at all.
    // Let tcpdump drain the kernel's buffer, then stop it; it reports drops on exit.
    std::thread::sleep(Duration::from_secs(1));
    let _ = Command::new("kill")
        .args(["-INT", &dump.0.id().to_string()])
        .status();
    let _ = dump.0.wait();
    let stats = dump_stderr.join().unwrap();
    eprintln!("tcpdump: {}", stats.trim().replace('\n', "; "));
    assert!(
        stats
            .lines()
            .any(|l| l.trim() == "0 packets dropped by kernel"),
        "{stats}"
    );
    let read = |filter: &str| -> Vec<String> {
        let out = Command::new(&tcpdump)
            .args(["-n", "-r"])
            .arg(&cap)
            .arg(filter)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect()
    };
    let to_b = read(&format!("host {REG_B_ADDR}"));
    let other = read(&format!("not host {REG_B_ADDR}"));
    eprintln!(
        "isolated namespace capture: {} packets with registry B, {} with any other address",
        to_b.len(),
        other.len()
    );
    assert!(
        to_b.len() > 20,
        "the capture saw registry B traffic: {to_b:?}"
    );
    assert!(other.is_empty(), "packets to other addresses: {other:#?}");
    // The kernel's counters agree: what left iso's veth is what the capture saw going there.
    let tx = Command::new("ip")
        .args(["netns", "exec", &iso, "cat"])
        .arg(format!("/sys/class/net/vi{pid}/statistics/tx_packets"))
        .output()
        .unwrap();
    let tx: usize = String::from_utf8_lossy(&tx.stdout).trim().parse().unwrap();
    let sent = read(&format!("src host {ISO_ADDR}")).len();
    let arp = read("arp").len();
    eprintln!("iso veth tx_packets {tx}; captured from iso {sent} IP packets and {arp} ARP");
    assert!(
        sent <= tx && tx <= sent + arp,
        "tx_packets {tx} vs captured {sent} (+{arp} ARP)"
    );
}

/// The JSON of blob `digest` in the OCI image layout `layout`.
fn layout_json(layout: &Path, digest: &str) -> serde_json::Value {
    let p = layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// Replace blob `old` of `layout` by `new` (same length), and every manifest, index and
/// `index.json` naming it by the same edit, so that the layout stays consistent: what a
/// forger with write access to the transfer medium could do.
fn rewrite_blob(layout: &Path, old: &str, new: &[u8]) {
    let new_digest = vouch_oci::registry::sha256_digest(new);
    let blobs = layout.join("blobs/sha256");
    std::fs::write(blobs.join(new_digest.trim_start_matches("sha256:")), new).unwrap();
    for e in std::fs::read_dir(&blobs).unwrap() {
        let p = e.unwrap().path();
        if std::fs::metadata(&p).unwrap().len() > 1 << 20 {
            continue;
        }
        let bytes = std::fs::read(&p).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        if text.contains(old) {
            let name = format!("sha256:{}", p.file_name().unwrap().to_string_lossy());
            rewrite_blob(layout, &name, text.replace(old, &new_digest).as_bytes());
        }
    }
    let idx = layout.join("index.json");
    let text = std::fs::read_to_string(&idx).unwrap();
    std::fs::write(&idx, text.replace(old, &new_digest)).unwrap();
}

/// Drop the `index.json` entries whose ref name ends with one of `suffixes`.
fn drop_tags(layout: &Path, suffixes: &[&str]) {
    let p = layout.join("index.json");
    let mut idx: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    idx["manifests"].as_array_mut().unwrap().retain(|m| {
        let name = m["annotations"]["org.opencontainers.image.ref.name"]
            .as_str()
            .unwrap_or_default();
        !suffixes.iter().any(|s| name.ends_with(s))
    });
    std::fs::write(&p, serde_json::to_vec(&idx).unwrap()).unwrap();
}

/// A log that answers every request with `answer` (a Rekor v1 `LogEntry` map): a log that
/// returns the wrong entry. Returns its URL.
fn lying_log(answer: std::sync::Arc<std::sync::Mutex<Vec<u8>>>) -> String {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut b).map(|n| n == 1).unwrap_or(false) {
                head.push(b[0]);
            }
            let body = answer.lock().unwrap().clone();
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(&body);
        }
    });
    url
}

/// The verified entries of `vouch verify … -o json`, as (layout, set_verified,
/// proof_verified).
fn verified_layouts(out: &Output) -> Vec<(String, bool, bool)> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let e = &r["result"]["tlog_entries"][0];
            (
                r["layout"].as_str().unwrap().to_string(),
                e["set_verified"].as_bool().unwrap(),
                e["proof_verified"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// `--upgrade-bundles`: a legacy-signed and -attested image (SET only) saved with its proofs,
/// loaded into another registry and verified offline using them; the signature bytes are the
/// legacy ones; a tampered proof and a log that returns another entry are refused by name.
#[test]
fn upgrade_bundles_save_load_offline() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let Some(bin) = registry_bin_or_skip("upgrade_bundles_save_load_offline") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = start_registry(&bin, &d.join("a"));
    let b = start_registry(&bin, &d.join("b"));
    let inst = start_up(&d.join("data"), 0, &d.join("up.log"));
    let (key, pubkey) = key_pair(&d.join("keys"));
    let s = Signing {
        tc: inst.trust_config.clone(),
        key,
        pubkey,
    };
    let src = format!("{}/team/legacy", a.addr);
    let img = push_image(&a.addr, "team/legacy", "v1", b"legacy layer");
    let img_ref = format!("{src}@{img}");
    s.sign(&img_ref, &["--legacy"]);
    let predicate = d.join("bom.json");
    std::fs::write(
        &predicate,
        br#"{"bomFormat":"CycloneDX","specVersion":"1.5"}"#,
    )
    .unwrap();
    s.attest(&img_ref, &predicate, &["--legacy"]);
    let sig_tag = format!("{}.sig", fallback(&img));
    let att_tag = format!("{}.att", fallback(&img));
    let legacy_sig: vouch_oci::oci_spec::image::ImageManifest =
        serde_json::from_slice(&manifest(&src, &sig_tag).unwrap()).unwrap();
    let sig_layer = &legacy_sig.layers()[0];
    let sig_ann = sig_layer.annotations().as_ref().unwrap();
    let legacy_sig_bytes = b64
        .decode(sig_ann["dev.cosignproject.cosign/signature"].trim())
        .unwrap();
    let rekor: serde_json::Value =
        serde_json::from_str(&sig_ann["dev.sigstore.cosign/bundle"]).unwrap();
    let sig_index = rekor["Payload"]["logIndex"].as_i64().unwrap();
    let legacy_at_a = (digest_of(&src, &sig_tag), digest_of(&src, &att_tag));
    assert!(
        referrers(&src, &img).is_empty(),
        "legacy only at the source"
    );

    // 1. save --upgrade-bundles: both layers get a bundle with their inclusion proof.
    let layout = d.join("transfer");
    let out = run(vouch()
        .args(["save", &img_ref, "--upgrade-bundles", "--trust-config"])
        .arg(&s.tc)
        .arg("--dir")
        .arg(&layout));
    let err = ok(&out, "save --upgrade-bundles");
    assert!(
        err.contains(&format!(
            "Upgraded tag {sig_tag} layer 0 to a bundle with the inclusion proof of log index {sig_index}"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("Upgraded tag {att_tag} layer 0")),
        "{err}"
    );
    // In the layout: the legacy tags as they were, and two referrers in the fallback index.
    let tagged = |name: &str| -> Option<String> {
        let idx = layout_index(&layout);
        idx.manifests()
            .iter()
            .find(|m| vouch_oci::oci_dir::ref_name(m) == Some(name))
            .map(|m| m.digest().to_string())
    };
    assert_eq!((tagged(&sig_tag), tagged(&att_tag)), legacy_at_a);
    let fallback_index = layout_json(&layout, &tagged(&fallback(&img)).unwrap());
    let entries = fallback_index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{fallback_index}");
    let referrer = |content: &str| -> serde_json::Value {
        let e = entries
            .iter()
            .find(|e| e["annotations"]["dev.sigstore.bundle.content"] == content)
            .unwrap_or_else(|| panic!("no {content} referrer in {fallback_index}"));
        layout_json(&layout, e["digest"].as_str().unwrap())
    };
    let sig_referrer = referrer("message-signature");
    assert_eq!(sig_referrer["subject"]["digest"], img.as_str());
    let layers = sig_referrer["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "bundle, then the simple-signing payload");
    assert_eq!(
        layers[1]["digest"].as_str().unwrap(),
        sig_layer.digest().to_string(),
        "the payload is the legacy layer's"
    );
    let sig_bundle_digest = layers[0]["digest"].as_str().unwrap().to_string();
    let bundle = layout_json(&layout, &sig_bundle_digest);
    assert_eq!(
        bundle["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert_eq!(
        b64.decode(bundle["messageSignature"]["signature"].as_str().unwrap())
            .unwrap(),
        legacy_sig_bytes,
        "the upgraded bundle carries the legacy signature bytes"
    );
    let entry = &bundle["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(entry["logIndex"], sig_index.to_string());
    assert!(entry["inclusionPromise"]["signedEntryTimestamp"].is_string());
    assert!(
        entry["inclusionProof"]["checkpoint"]["envelope"]
            .as_str()
            .unwrap()
            .contains('\u{2014}'),
        "a signed checkpoint: {entry}"
    );
    let att_referrer = referrer("dsse-envelope");
    let att_layers = att_referrer["layers"].as_array().unwrap();
    assert_eq!(att_layers.len(), 1, "cosign v3's one-layer bundle referrer");
    let att_bundle = layout_json(&layout, att_layers[0]["digest"].as_str().unwrap());
    let legacy_att: vouch_oci::oci_spec::image::ImageManifest =
        serde_json::from_slice(&manifest(&src, &att_tag).unwrap()).unwrap();
    let envelope = layout_json(&layout, legacy_att.layers()[0].digest().as_ref());
    assert_eq!(
        att_bundle["dsseEnvelope"]["signatures"][0]["sig"], envelope["signatures"][0]["sig"],
        "the upgraded attestation carries the legacy DSSE signature"
    );

    // 2. load into registry B: the legacy tags keep their digests, the bundles come along.
    let mirror = format!("{}/mirror/legacy", b.addr);
    ok(
        &run(vouch().args(["load", "--dir"]).arg(&layout).arg(&mirror)),
        "load",
    );
    assert_eq!(
        (digest_of(&mirror, &sig_tag), digest_of(&mirror, &att_tag)),
        legacy_at_a
    );
    assert_eq!(referrers(&mirror, &img).len(), 2);

    // 3. verify --offline: the upgraded bundles verify with their inclusion proofs, the
    //    legacy layers (still there) with their SETs.
    let out = s.verify(
        "verify",
        &format!("{mirror}@{img}"),
        &["--offline", "-o", "json"],
    );
    ok(&out, "verify --offline the loaded image");
    let mut got = verified_layouts(&out);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("bundle".to_string(), true, true),
            ("legacy".to_string(), true, false)
        ],
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = s.verify(
        "verify-attestation",
        &format!("{mirror}@{img}"),
        &["--offline", "--type", "cyclonedx", "-o", "json"],
    );
    ok(&out, "verify-attestation --offline the loaded image");
    let mut got = verified_layouts(&out);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("bundle".to_string(), true, true),
            ("legacy".to_string(), true, false)
        ]
    );

    // `vouch audit` counts the upgraded signature (its payload beside the bundle) as valid,
    // as it does the legacy layer. The registry audit lists tags: tag the loaded image.
    let loaded = manifest(&mirror, &img).unwrap();
    rt().block_on(async {
        let c = vouch_oci::Registry::new(vouch_oci::RegistryOptions::default()).unwrap();
        let r = vouch_oci::parse_reference(&format!("{mirror}:v1")).unwrap();
        c.put_manifest(
            &r,
            "v1",
            &loaded,
            "application/vnd.oci.image.manifest.v1+json",
        )
        .await
        .unwrap();
    });
    let key_block: String = std::fs::read_to_string(&s.pubkey)
        .unwrap()
        .lines()
        .map(|l| format!("        {l}\n"))
        .collect();
    let policies = d.join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(
        policies.join("mirror.yaml"),
        format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: mirror\nspec:\n  images:\n  - glob: \"{}/mirror/**\"\n  authorities:\n  - name: release-key\n    key:\n      data: |\n{key_block}",
            b.addr
        ),
    )
    .unwrap();
    let out = run(vouch()
        .args(["audit", "registry", &mirror, "--policy"])
        .arg(&policies)
        .arg("--trust-config")
        .arg(&s.tc)
        .args(["-o", "json"]));
    let audit: serde_json::Value =
        serde_json::from_str(&common::ok_stdout(&out, "audit the mirror")).unwrap();
    let artifact = &audit["artifacts"][0];
    let signatures: Vec<(String, bool)> = artifact["evidence"]
        .as_array()
        .unwrap_or_else(|| panic!("no evidence in the audit: {audit:#}"))
        .iter()
        .filter(|e| e["kind"] == "signature")
        .map(|e| {
            (
                e["location"].as_str().unwrap_or_default().to_string(),
                e["valid"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(signatures.len(), 2, "{artifact:#}");
    assert!(signatures.iter().all(|(_, v)| *v), "{artifact:#}");
    assert_eq!(artifact["signed"], true, "{artifact:#}");

    // 4. The upgraded bundles alone (legacy tags dropped) verify, from the layout, offline.
    let alone = d.join("alone");
    copy_dir(&layout, &alone);
    drop_tags(&alone, &[".sig", ".att"]);
    let out = s.verify(
        "verify",
        alone.to_str().unwrap(),
        &["--local-image", "--offline", "-o", "json"],
    );
    ok(&out, "verify the upgraded signature alone");
    assert_eq!(
        verified_layouts(&out),
        vec![("bundle".to_string(), true, true)]
    );
    // A tampered proof hash (the layout rewritten consistently around it) is refused.
    let text = String::from_utf8(
        std::fs::read(
            alone
                .join("blobs/sha256")
                .join(sig_bundle_digest.trim_start_matches("sha256:")),
        )
        .unwrap(),
    )
    .unwrap();
    let hash = entry["inclusionProof"]["hashes"][0].as_str().unwrap();
    let flipped = format!(
        "{}{}",
        if hash.starts_with('A') { "B" } else { "A" },
        &hash[1..]
    );
    rewrite_blob(
        &alone,
        &sig_bundle_digest,
        text.replace(hash, &flipped).as_bytes(),
    );
    let err = fails(
        &s.verify(
            "verify",
            alone.to_str().unwrap(),
            &["--local-image", "--offline"],
        ),
        "verify a tampered inclusion proof",
        "inclusion proof",
    );
    assert!(err.contains("none of the 1 signature(s)"), "{err}");

    // 5. copy --upgrade-bundles straight to a registry; again: nothing new to attach.
    let copied = format!("{}/copied/legacy", b.addr);
    let out = run(vouch()
        .args([
            "copy",
            &img_ref,
            &copied,
            "--upgrade-bundles",
            "--trust-config",
        ])
        .arg(&s.tc));
    ok(&out, "copy --upgrade-bundles");
    assert_eq!(
        referrers(&copied, &img),
        referrers(&mirror, &img),
        "same referrers, byte for byte"
    );
    let err = ok(
        &run(vouch()
            .args([
                "copy",
                &img_ref,
                &copied,
                "--upgrade-bundles",
                "--trust-config",
            ])
            .arg(&s.tc)),
        "copy --upgrade-bundles again",
    );
    assert!(err.contains("already attached"), "{err}");
    assert_eq!(referrers(&copied, &img).len(), 2);

    // 6. A log that returns another entry than the SET signs: refused, naming the field.
    let att_index = {
        let ann = legacy_att.layers()[0].annotations().clone().unwrap();
        let rb: serde_json::Value =
            serde_json::from_str(&ann["dev.sigstore.cosign/bundle"]).unwrap();
        rb["Payload"]["logIndex"].as_i64().unwrap()
    };
    assert_ne!(att_index, sig_index);
    let other = common::get(
        &inst.urls["log"],
        &format!("/api/v1/log/entries?logIndex={att_index}"),
    );
    let answer = std::sync::Arc::new(std::sync::Mutex::new(other.clone()));
    let liar = lying_log(answer.clone());
    let save_via_liar = |to: &str| {
        run(vouch()
            .args(["save", &img_ref, "--upgrade-bundles", "--rekor-url", &liar])
            .arg("--trust-config")
            .arg(&s.tc)
            .arg("--dir")
            .arg(d.join(to)))
    };
    let err = fails(
        &save_via_liar("liar1"),
        "save --upgrade-bundles from a log returning another entry",
        &format!("logIndex expected {sig_index}, got {att_index}"),
    );
    assert!(
        err.contains("returned a different entry than the SET signs"),
        "{err}"
    );
    // The same entry relabelled with the expected index: its body still gives it away.
    let mut relabelled: serde_json::Value = serde_json::from_slice(&other).unwrap();
    for (_, e) in relabelled.as_object_mut().unwrap() {
        e["logIndex"] = serde_json::json!(sig_index);
    }
    *answer.lock().unwrap() = serde_json::to_vec(&relabelled).unwrap();
    let err = fails(
        &save_via_liar("liar2"),
        "save --upgrade-bundles from a log returning a relabelled entry",
        "returned a different entry than the SET signs",
    );
    assert!(
        err.contains("body expected leaf hash") || err.contains("integratedTime expected"),
        "{err}"
    );
}

fn layout_index(layout: &Path) -> vouch_oci::oci_spec::image::ImageIndex {
    serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap()
}
