#!/usr/bin/env python3
"""Independent peer for cosign key files, written from the format description
(protocols.md §9.3), not from vouch's code.

cosign.key = PEM "ENCRYPTED SIGSTORE PRIVATE KEY" (legacy "ENCRYPTED COSIGN PRIVATE KEY")
whose payload is JSON:
  {"kdf": {"name": "scrypt", "params": {"N": .., "r": 8, "p": 1}, "salt": b64},
   "cipher": {"name": "nacl/secretbox", "nonce": b64(24)},
   "ciphertext": b64(secretbox(PKCS#8 DER))}
key = scrypt(password, salt, N, r, p, 32); secretbox = XSalsa20-Poly1305 (tag first).

Needs: hashlib (stdlib), PyNaCl, cryptography. The password is read from $COSIGN_PASSWORD.

Commands:
  decrypt-sign KEY MSG SIGOUT PUBOUT   decrypt KEY, sign MSG (DER ECDSA / Ed25519) to SIGOUT
                                       (raw bytes), write the public key PEM to PUBOUT
  generate ALG N LABEL KEYOUT PUBOUT   ALG in p256|p384|ed25519; encrypt with scrypt N
  generate-plain ALG FORMAT KEYOUT PUBOUT  FORMAT in pkcs8|sec1: unencrypted PEM
  verify PUB MSG SIG                   exit 0 when SIG (raw bytes) verifies over MSG
"""

import base64
import hashlib
import json
import os
import sys

import nacl.secret
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

ALLOWED_N = (32768, 65536, 131072)
LABELS = ("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY")


def password() -> bytes:
    return os.environ.get("COSIGN_PASSWORD", "").encode()


def pem_encode(label: str, data: bytes) -> str:
    b64 = base64.b64encode(data).decode()
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def pem_decode(text: str):
    for label in LABELS:
        begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
        if begin in text:
            body = text.split(begin, 1)[1].split(end, 1)[0]
            return label, base64.b64decode("".join(body.split()))
    raise SystemExit("no encrypted cosign key block")


def scrypt(pw: bytes, salt: bytes, n: int) -> bytes:
    return hashlib.scrypt(pw, salt=salt, n=n, r=8, p=1, dklen=32, maxmem=512 * 1024 * 1024)


def decrypt(text: str, pw: bytes) -> bytes:
    _, payload = pem_decode(text)
    doc = json.loads(payload)
    kdf, cipher = doc["kdf"], doc["cipher"]
    if kdf["name"] != "scrypt" or cipher["name"] != "nacl/secretbox":
        raise SystemExit("unsupported kdf/cipher")
    params = kdf["params"]
    if params["N"] not in ALLOWED_N or params["r"] != 8 or params["p"] != 1:
        raise SystemExit(f"unsupported scrypt params {params}")
    key = scrypt(pw, base64.b64decode(kdf["salt"]), params["N"])
    nonce = base64.b64decode(cipher["nonce"])
    assert len(nonce) == 24
    return nacl.secret.SecretBox(key).decrypt(base64.b64decode(doc["ciphertext"]), nonce)


def encrypt(pkcs8: bytes, pw: bytes, n: int, label: str) -> str:
    salt, nonce = os.urandom(32), os.urandom(24)
    key = scrypt(pw, salt, n)
    ct = nacl.secret.SecretBox(key).encrypt(pkcs8, nonce).ciphertext
    doc = {
        "kdf": {"name": "scrypt", "params": {"N": n, "r": 8, "p": 1}, "salt": base64.b64encode(salt).decode()},
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(ct).decode(),
    }
    return pem_encode(label, json.dumps(doc).encode())


def sign(priv, msg: bytes) -> bytes:
    if isinstance(priv, ed25519.Ed25519PrivateKey):
        return priv.sign(msg)
    h = {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}[priv.curve.key_size]
    return priv.sign(msg, ec.ECDSA(h))


def verify(pub, msg: bytes, sig: bytes) -> None:
    if isinstance(pub, ed25519.Ed25519PublicKey):
        pub.verify(sig, msg)
    else:
        h = {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}[pub.curve.key_size]
        pub.verify(sig, msg, ec.ECDSA(h))


def generate(alg: str):
    if alg == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "p384":
        return ec.generate_private_key(ec.SECP384R1())
    if alg == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise SystemExit(f"unknown alg {alg}")


def pub_pem(priv) -> bytes:
    return priv.public_key().public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo)


def main(argv):
    cmd = argv[1]
    if cmd == "decrypt-sign":
        keyfile, msgfile, sigout, pubout = argv[2:6]
        pkcs8 = decrypt(open(keyfile).read(), password())
        priv = ser.load_der_private_key(pkcs8, password=None)
        open(sigout, "wb").write(sign(priv, open(msgfile, "rb").read()))
        open(pubout, "wb").write(pub_pem(priv))
    elif cmd == "generate":
        alg, n, label, keyout, pubout = argv[2:7]
        priv = generate(alg)
        pkcs8 = priv.private_bytes(ser.Encoding.DER, ser.PrivateFormat.PKCS8, ser.NoEncryption())
        open(keyout, "w").write(encrypt(pkcs8, password(), int(n), label))
        open(pubout, "wb").write(pub_pem(priv))
    elif cmd == "generate-plain":
        alg, fmt, keyout, pubout = argv[2:6]
        priv = generate(alg)
        pf = {"pkcs8": ser.PrivateFormat.PKCS8, "sec1": ser.PrivateFormat.TraditionalOpenSSL}[fmt]
        open(keyout, "wb").write(priv.private_bytes(ser.Encoding.PEM, pf, ser.NoEncryption()))
        open(pubout, "wb").write(pub_pem(priv))
    elif cmd == "verify":
        pubfile, msgfile, sigfile = argv[2:5]
        pub = ser.load_pem_public_key(open(pubfile, "rb").read())
        verify(pub, open(msgfile, "rb").read(), open(sigfile, "rb").read())
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
