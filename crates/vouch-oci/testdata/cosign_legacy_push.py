#!/usr/bin/env python3
"""An independent writer of cosign's legacy (<= v2) image signature layout, for interop tests.

Follows protocols.md section 9.1 byte for byte, with nothing but the Python standard library
for HTTP and `cryptography` for the ECDSA P-256 key and signature:

  * payload: the simple-signing JSON exactly as Go's encoding/json writes it;
  * blob upload: POST /v2/<name>/blobs/uploads/ then PUT <location>?digest=...;
  * layer media type application/vnd.dev.cosign.simplesigning.v1+json with the annotation
    dev.cosignproject.cosign/signature = base64(DER ECDSA signature over the payload);
  * with --rekor: a hashedrekord 0.0.1 entry in a Rekor v1 log, whose SET and payload go into
    the dev.sigstore.cosign/bundle annotation (Go field order);
  * config: go-containerregistry's empty image config with rootfs.diff_ids;
  * manifest at tag sha256-<hex>.sig.

usage: cosign_legacy_push.py REGISTRY REPO DIGEST PUBKEY_OUT [--rekor URL] [--claim DIGEST]

--claim puts another digest into the payload (a signature replayed onto the wrong image),
which verifiers must reject.
"""
import base64
import hashlib
import json
import sys
import urllib.request

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def request(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    return urllib.request.urlopen(req, timeout=30)


def go_json(obj):
    # Go's encoding/json: no spaces; struct fields in declaration order (we pass ordered dicts).
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def main():
    registry, repo, digest, pub_out = sys.argv[1:5]
    rekor = None
    if "--rekor" in sys.argv:
        rekor = sys.argv[sys.argv.index("--rekor") + 1].rstrip("/")
    claimed = digest
    if "--claim" in sys.argv:
        claimed = sys.argv[sys.argv.index("--claim") + 1]
    base = "http://%s/v2/%s" % (registry, repo)

    def put_blob(data):
        d = "sha256:" + hashlib.sha256(data).hexdigest()
        loc = request("POST", base + "/blobs/uploads/").headers["Location"]
        if loc.startswith("/"):
            loc = "http://%s%s" % (registry, loc)
        sep = "&" if "?" in loc else "?"
        request("PUT", "%s%sdigest=%s" % (loc, sep, d), data,
                {"Content-Type": "application/octet-stream"})
        return d

    key = ec.generate_private_key(ec.SECP256R1())
    pub_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with open(pub_out, "wb") as f:
        f.write(pub_pem)

    # containers/image "atomic" simple signing, as cosign's payload.Cosign marshals it.
    payload = go_json({
        "critical": {
            "identity": {"docker-reference": "%s/%s" % (registry, repo)},
            "image": {"docker-manifest-digest": claimed},
            "type": "cosign container image signature",
        },
        "optional": None,
    })
    signature = key.sign(payload, ec.ECDSA(hashes.SHA256()))
    annotations = {"dev.cosignproject.cosign/signature": base64.b64encode(signature).decode()}

    if rekor:
        entry = go_json({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256",
                                  "value": hashlib.sha256(payload).hexdigest()}},
                "signature": {"content": base64.b64encode(signature).decode(),
                              "publicKey": {"content": base64.b64encode(pub_pem).decode()}},
            },
        })
        resp = request("POST", rekor + "/api/v1/log/entries", entry,
                       {"Content-Type": "application/json", "Accept": "application/json"})
        (uuid, e), = json.loads(resp.read()).items()
        annotations["dev.sigstore.cosign/bundle"] = go_json({
            "SignedEntryTimestamp": e["verification"]["signedEntryTimestamp"],
            "Payload": {
                "body": e["body"],
                "integratedTime": e["integratedTime"],
                "logIndex": e["logIndex"],
                "logID": e["logID"],
            },
        }).decode()

    layer_digest = put_blob(payload)
    config = go_json({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "config": {},
    })
    config_digest = put_blob(config)
    manifest = go_json({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "size": len(config), "digest": config_digest},
        "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                    "size": len(payload), "digest": layer_digest,
                    "annotations": annotations}],
    })
    tag = digest.replace(":", "-", 1) + ".sig"
    request("PUT", "%s/manifests/%s" % (base, tag), manifest,
            {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    print(tag)


if __name__ == "__main__":
    main()
