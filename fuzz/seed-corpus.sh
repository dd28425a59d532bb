#!/usr/bin/env bash
# Build seed corpora for every fuzz target under fuzz/corpus/<target>/ from the shared test data
# (sigstore-conformance bundles and trusted roots). Needs only python3 (stdlib json/base64).
#
#   fuzz/seed-corpus.sh [TESTDATA_DIR]      # default: $VOUCH_TESTDATA or ../../shared/testdata
#
# Files are named by the SHA-1 of their content (like libFuzzer), so reruns are idempotent.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
testdata="${1:-${VOUCH_TESTDATA:-$here/../../shared/testdata}}"
if [ ! -d "$testdata" ]; then
    echo "seed-corpus.sh: test data not found at $testdata" >&2
    exit 1
fi

exec python3 - "$testdata" "$here/corpus" <<'PY'
import base64, hashlib, json, os, struct, sys

testdata, out = sys.argv[1], sys.argv[2]
targets = ["bundle_json", "verify_bundle", "certificate", "checkpoint",
           "tsa_token", "rekor_body", "trusted_root", "admission_review",
           "log_http", "ct_http", "tsa_http", "ca_http", "oci_manifest",
           "add_checkpoint", "tlog_policy", "tuf_metadata"]
counts = {t: 0 for t in targets}

def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, hashlib.sha1(data).hexdigest())
    if not os.path.exists(p):
        with open(p, "wb") as f:
            f.write(data)
        counts[target] += 1

def b64(s):
    try:
        return base64.b64decode(s + "=" * (-len(s) % 4), validate=False)
    except Exception:
        return None

def files(top, name):
    for dirpath, _, names in sorted(os.walk(top)):
        for n in sorted(names):
            if n == name or (name.startswith("*") and n.endswith(name[1:])):
                yield os.path.join(dirpath, n)

def certs_of_root(tr):
    for key in ("certificateAuthorities", "timestampAuthorities"):
        for ca in tr.get(key) or []:
            for c in ((ca.get("certChain") or {}).get("certificates")) or []:
                yield c.get("rawBytes", "")

def body_certs(body):
    """DER certificates inside a Rekor body (v2 rawBytes, v1 base64 PEM)."""
    try:
        spec = json.loads(body).get("spec") or {}
    except ValueError:
        return
    stack = [spec]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, str) and len(v) > 200:
            d = b64(v)
            if not d:
                continue
            if d.startswith(b"0\x82"):
                yield d
            elif d.startswith(b"-----BEGIN CERTIFICATE-----"):
                lines = d.decode("ascii", "replace").splitlines()
                der = b64("".join(l for l in lines if not l.startswith("-----")))
                if der:
                    yield der


# Trusted roots (and the certificates they carry).
for p in files(testdata, "*trusted_root.json"):
    raw = open(p, "rb").read()
    put("trusted_root", raw)
    try:
        tr = json.loads(raw)
    except ValueError:
        continue
    for rb in certs_of_root(tr):
        der = b64(rb)
        if der:
            put("certificate", der)
for p in files(testdata, "*signing_config*.json"):
    put("trusted_root", open(p, "rb").read())

# Bundles and everything nested in them.
for p in files(testdata, "bundle.sigstore.json"):
    raw = open(p, "rb").read()
    put("bundle_json", raw)
    put("verify_bundle", raw)
    try:
        b = json.loads(raw)
    except ValueError:
        continue  # deliberately malformed JSON: a seed for the JSON targets only
    vm = b.get("verificationMaterial") or {}
    ders = []
    if vm.get("certificate"):
        ders.append(vm["certificate"].get("rawBytes", ""))
    for c in ((vm.get("x509CertificateChain") or {}).get("certificates")) or []:
        ders.append(c.get("rawBytes", ""))
    for rb in ders:
        der = b64(rb)
        if der:
            put("certificate", der)
    sig = None
    if b.get("messageSignature"):
        sig = b64(b["messageSignature"].get("signature", ""))
    elif b.get("dsseEnvelope"):
        sigs = b["dsseEnvelope"].get("signatures") or []
        if sigs:
            sig = b64(sigs[0].get("sig", ""))
        payload = b64(b["dsseEnvelope"].get("payload", ""))
        if payload:
            put("bundle_json", payload)  # in-toto statement (Statement::from_json)
    for e in vm.get("tlogEntries") or []:
        body = b64(e.get("canonicalizedBody", ""))
        if body:
            put("rekor_body", body)
            for der in body_certs(body):
                put("certificate", der)
        cp = ((e.get("inclusionProof") or {}).get("checkpoint") or {}).get("envelope")
        if cp:
            put("checkpoint", cp)
            put("add_checkpoint", "old 0\n\n" + cp)
            # The checkpoint text alone (up to the blank line before the signatures).
            i = cp.rfind("\n\n")
            if i >= 0:
                put("checkpoint", cp[: i + 1])
    tsd = (vm.get("timestampVerificationData") or {}).get("rfc3161Timestamps") or []
    for t in tsd:
        der = b64(t.get("signedTimestamp", ""))
        if not der:
            continue
        put("tsa_token", der)  # raw DER: exercises parse_timestamp_response
        if sig is not None and len(sig) < 65536:
            put("tsa_token", struct.pack(">H", len(sig)) + sig + der)

# tlog-policy seeds: the spec's two-level example with made-up Ed25519 cosigner keys.
def cosigner_vkey(name, seed):
    key = bytes([seed]) * 32
    kid = hashlib.sha256(name.encode() + b"\n" + b"\x04" + key).digest()[:4]
    enc = base64.b64encode(b"\x04" + key).decode()
    return f"{name}+{kid.hex()}+{enc}"
pol = "log PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\n"
for i, n in enumerate(["X1", "X2", "X3", "Y1", "Y2", "Y3"]):
    pol += f"witness {n} {cosigner_vkey(n, i + 1)}\n"
pol += "group X 2 X1 X2 X3\ngroup Y any Y1 Y2 Y3\ngroup XY all X Y\nquorum XY\n"
put("tlog_policy", pol)
put("tlog_policy", "# nothing witnessed\nquorum none\n")
put("add_checkpoint", "old 3\n" + base64.b64encode(b"\x01" * 32).decode() + "\n\no\n5\n" + base64.b64encode(b"\x02" * 32).decode() + "\n\n\u2014 o AAAAAQID\n")
# Server requests, as clients send them, built from the same material. The HTTP targets take a
# selector byte first (see each target's doc comment).
def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b

def tlv(tag, body):
    return bytes([tag]) + der_len(len(body)) + body

SHA256_OID = bytes.fromhex("0609608648016503040201")
def timestamp_req(digest, cert_req, nonce):
    alg = tlv(0x30, SHA256_OID + b"\x05\x00")
    imprint = tlv(0x30, alg + tlv(0x04, digest))
    body = tlv(0x02, b"\x01") + imprint
    if nonce is not None:
        body += tlv(0x02, nonce)
    if cert_req:
        body += tlv(0x01, b"\xff")
    return tlv(0x30, body)

for p in files(testdata, "bundle.sigstore.json"):
    try:
        b = json.loads(open(p, "rb").read())
    except ValueError:
        continue
    vm = b.get("verificationMaterial") or {}
    cert = (vm.get("certificate") or {}).get("rawBytes")
    for e in vm.get("tlogEntries") or []:
        body = b64(e.get("canonicalizedBody", ""))
        if body:
            put("log_http", b"\x01" + body)                          # v1 ProposedEntry
            put("log_http", b"\x03" + json.dumps({"hash": "sha256:" + hashlib.sha256(body).hexdigest()}).encode())
        put("log_http", b"\x05" + ("logIndex=%s" % e.get("logIndex", "0")).encode())
        put("log_http", b"\x02" + json.dumps({"logIndexes": [int(e.get("logIndex", "0"))]}).encode())
    ms = b.get("messageSignature")
    if ms and cert:
        digest = (ms.get("messageDigest") or {}).get("digest", "")
        put("log_http", b"\x00" + json.dumps({"hashedRekordRequestV002": {
            "digest": digest,
            "signature": {"content": ms.get("signature", ""),
                          "verifier": {"x509Certificate": {"rawBytes": cert},
                                       "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}}}).encode())
        d = b64(digest) or b""
        put("tsa_http", b"\x00" + timestamp_req(d, True, b"\x01\x02\x03\x04"))
        put("tsa_http", b"\x02" + timestamp_req(d, False, None))
        put("tsa_http", b"\x01" + json.dumps({"artifactHash": digest, "hashAlgorithm": "sha256", "certificates": True, "nonce": 1234}).encode())
    if cert:
        chain = [cert] + [c.get("rawBytes", "") for c in ((vm.get("x509CertificateChain") or {}).get("certificates") or [])]
        put("ct_http", b"\x00" + json.dumps({"chain": chain}).encode())
        put("ct_http", b"\x01" + json.dumps({"chain": chain}).encode())
        der = b64(cert)
        if der:
            put("ca_http", b"\x01" + der)                              # as a CSR (fails: not a CSR)
        put("ca_http", b"\x00" + json.dumps({"credentials": {"oidcIdentityToken": "e30.e30.e30"},
                                              "certificateSigningRequest": cert}).encode())
for q in [b"start=0&end=0", b"hash=AAAA&tree_size=1", b"first=0&second=1", b"leaf_index=0&tree_size=1"]:
    for sel in (2, 3, 4, 5):
        put("ct_http", bytes([sel]) + q)
for q in [b"0/000", b"1/000.p/5", b"entries/000", b"entries/x/../../etc/passwd"]:
    put("log_http", b"\x04" + q)
# cosign legacy signature manifests and simple-signing payloads.
put("oci_manifest", b"\x00" + json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + "0" * 64, "size": 2},
    "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "digest": "sha256:" + "1" * 64, "size": 10,
                "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQ=="}}]}).encode())
put("oci_manifest", b"\x01" + json.dumps({"critical": {"identity": {"docker-reference": "registry.local/app"},
    "image": {"docker-manifest-digest": "sha256:" + "2" * 64}, "type": "cosign container image signature"}, "optional": None}).encode())
# AdmissionReview v1 requests as the API server sends them: every kind at its pod-spec depth,
# every image field, CREATE and a scale-down UPDATE.
pod_spec = {"initContainers": [{"name": "init", "image": "registry.local:5000/init:1"}],
            "containers": [{"name": "app", "image": "registry.local:5000/app:v1"},
                           {"name": "side", "image": "registry.local:5000/side@sha256:" + "a" * 64}],
            "ephemeralContainers": [{"name": "dbg", "image": "busybox"}],
            "volumes": [{"name": "m", "image": {"reference": "registry.local:5000/models:3"}}]}
kinds = [("", "Pod", "pods", ["spec"]), ("apps", "Deployment", "deployments", ["spec", "template", "spec"]),
         ("apps", "ReplicaSet", "replicasets", ["spec", "template", "spec"]),
         ("apps", "StatefulSet", "statefulsets", ["spec", "template", "spec"]),
         ("apps", "DaemonSet", "daemonsets", ["spec", "template", "spec"]),
         ("batch", "Job", "jobs", ["spec", "template", "spec"]),
         ("batch", "CronJob", "cronjobs", ["spec", "jobTemplate", "spec", "template", "spec"]),
         ("", "ReplicationController", "replicationcontrollers", ["spec", "template", "spec"])]
for group, kind, resource, path in kinds:
    obj = pod_spec
    for tok in reversed(path):
        obj = {tok: obj}
    obj = dict(obj, apiVersion=(group + "/v1") if group else "v1", kind=kind, metadata={"name": "x"})
    for op, old in (("CREATE", None), ("UPDATE", obj)):
        new = obj
        if old is not None and kind != "Pod":
            new = json.loads(json.dumps(obj))
            new["spec"]["replicas"] = 1
            old = json.loads(json.dumps(obj))
            old["spec"]["replicas"] = 3
        req = {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
               "kind": {"group": group, "version": "v1", "kind": kind},
               "resource": {"group": group, "version": "v1", "resource": resource},
               "name": "x", "namespace": "prod", "operation": op,
               "userInfo": {"username": "admin"}, "object": new, "oldObject": old, "dryRun": False}
        put("admission_review", json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req}))

# tuf_metadata: NUL-separated root, timestamp, snapshot, targets, 2.root.json. The TUF roots in
# the test data (public-good), alone, as their own successor, and with each role's document
# replaced by the root's "signed" body re-labelled as that role (rejected at the signature check).
for p in files(testdata, "*tuf-root.json"):
    raw = open(p, "rb").read()
    put("tuf_metadata", raw)
    put("tuf_metadata", raw + b"\0\0\0\0" + raw)
    doc = json.loads(raw)
    roles = []
    for role in ["timestamp", "snapshot", "targets"]:
        d = json.loads(json.dumps(doc))
        d["signed"]["_type"] = role
        roles.append(json.dumps(d).encode())
    put("tuf_metadata", b"\0".join([raw] + roles))

for t in targets:
    d = os.path.join(out, t)
    n = len(os.listdir(d)) if os.path.isdir(d) else 0
    print(f"{t:14} {n:4} seeds ({counts[t]} new)")
PY
