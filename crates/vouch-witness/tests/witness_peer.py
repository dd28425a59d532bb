"""An independent C2SP tlog-witness client and cosignature verifier (pynacl for Ed25519,
pyca/cryptography for ML-DSA-44), used by add_checkpoint.rs against a running vouch witness.

It plays the log: derives the log key from a seed, computes the vkey and key ID itself, builds
RFC 6962 trees, checkpoints and consistency proofs, calls add-checkpoint, and checks each
cosignature against the witness's vkeys from scratch (key IDs, cosignature/v1 message,
subtree/v1 message). Prints OK on success; exits non-zero with a reason otherwise.
"""

import base64
import hashlib
import struct
import sys
import urllib.error
import urllib.request

import nacl.signing

try:
    from cryptography.hazmat.primitives.asymmetric import mldsa
except ImportError:  # older cryptography: the caller decides whether that is a skip
    mldsa = None


def b64(b):
    return base64.b64encode(b).decode()


def key_id(name, typ, key):
    return hashlib.sha256(name.encode() + b"\n" + bytes([typ]) + key).digest()[:4]


def parse_vkey(vkey):
    name, hexid, rest = vkey.split("+", 2)
    raw = base64.b64decode(rest)
    assert key_id(name, raw[0], raw[1:]).hex() == hexid, f"key ID of {vkey[:40]}"
    return name, raw[0], raw[1:]


def leaf(data):
    return hashlib.sha256(b"\x00" + data).digest()


def mth(hashes):
    if len(hashes) == 0:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:])).digest()


def subproof(m, hashes, whole):
    n = len(hashes)
    if m == n:
        return [] if whole else [mth(hashes)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return subproof(m, hashes[:k], whole) + [mth(hashes[k:])]
    return subproof(m - k, hashes[k:], False) + [mth(hashes[:k])]


class Log:
    def __init__(self, seed, origin):
        self.sk = nacl.signing.SigningKey(seed)
        self.origin = origin
        self.pub = bytes(self.sk.verify_key)
        self.kid = key_id(origin, 0x01, self.pub)

    def vkey(self):
        return f"{self.origin}+{self.kid.hex()}+{b64(bytes([1]) + self.pub)}"

    def checkpoint(self, hashes):
        text = f"{self.origin}\n{len(hashes)}\n{b64(mth(hashes))}\n"
        sig = self.sk.sign(text.encode()).signature
        return text, text + "\n\u2014 " + self.origin + " " + b64(self.kid + sig) + "\n"


def post(url, body):
    req = urllib.request.Request(url + "/add-checkpoint", data=body.encode(), method="POST")
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def check_cosignatures(lines, text, origin, witness_keys):
    """Verify every line from a known witness key; return the set of types verified."""
    cp_size = int(text.split("\n")[1])
    root = base64.b64decode(text.split("\n")[2])
    seen = set()
    for line in lines.splitlines():
        assert line.startswith("\u2014 "), repr(line)
        name, sig_b64 = line[2:].split(" ")
        raw = base64.b64decode(sig_b64)
        for wname, typ, key in witness_keys:
            if name != wname or raw[:4] != key_id(wname, typ, key):
                continue
            (ts,) = struct.unpack(">Q", raw[4:12])
            assert 0 < ts < 2**63, ts
            sig = raw[12:]
            if typ == 0x04:
                msg = f"cosignature/v1\ntime {ts}\n{text}".encode()
                nacl.signing.VerifyKey(key).verify(msg, sig)
            elif typ == 0x06:
                assert len(sig) == 2420, len(sig)
                msg = (b"subtree/v1\n\x00" + bytes([len(name)]) + name.encode() + struct.pack(">Q", ts)
                       + bytes([len(origin)]) + origin.encode() + struct.pack(">QQ", 0, cp_size) + root)
                if mldsa is not None:
                    mldsa.MLDSA44PublicKey.from_public_bytes(key).verify(sig, msg)
                else:
                    continue
            seen.add(typ)
    return seen


def main():
    url, seed_hex, origin, want_vkey, *wvkeys = sys.argv[1:]
    log = Log(bytes.fromhex(seed_hex), origin)
    assert log.vkey() == want_vkey, f"log vkey {log.vkey()} != {want_vkey}"
    witness_keys = [parse_vkey(v) for v in wvkeys]
    want_types = {0x04, 0x06} if mldsa is not None else {0x04}

    hashes = [leaf(b"entry %d" % i) for i in range(13)]
    text7, cp7 = log.checkpoint(hashes[:7])
    st, ct, body = post(url, "old 0\n\n" + cp7)
    assert st == 200, (st, body)
    assert check_cosignatures(body, text7, origin, witness_keys) == want_types, body

    st, ct, body = post(url, "old 0\n\n" + cp7)
    assert (st, ct, body) == (409, "text/x.tlog.size", "7\n"), (st, ct, body)

    text13, cp13 = log.checkpoint(hashes)
    proof = "".join(b64(h) + "\n" for h in subproof(7, hashes, True))
    st, ct, body = post(url, "old 7\n" + proof + "\n" + cp13)
    assert st == 200, (st, body)
    assert check_cosignatures(body, text13, origin, witness_keys) == want_types, body

    # A forked 20-leaf tree whose first 13 leaves differ: its proof cannot match the root
    # the witness holds.
    fork = [leaf(b"forked %d" % i) for i in range(20)]
    _, cp20 = log.checkpoint(fork)
    proof = "".join(b64(h) + "\n" for h in subproof(13, fork, True))
    st, ct, body = post(url, "old 13\n" + proof + "\n" + cp20)
    assert st == 422, (st, body)

    h = hashlib.sha256(origin.encode()).hexdigest()
    with urllib.request.urlopen(f"{url}/{h}/checkpoint") as r:
        served = r.read().decode()
    assert served.startswith(text13 + "\n"), served
    assert check_cosignatures(served.split("\n\n", 1)[1], text13, origin, witness_keys) == want_types
    print("OK" if mldsa is not None else "OK (Ed25519 only: this cryptography has no ML-DSA)")


if __name__ == "__main__":
    main()
