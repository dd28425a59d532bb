"""An independent C2SP tlog-cosignature signer (pynacl for Ed25519, pyca/cryptography for
ML-DSA-44), for cosignature_interop.rs: reads a checkpoint note text on stdin, prints the
cosigner's two vkeys, then its two cosignature lines (computed from the spec, not from vouch).

usage: cosigner.py NAME TIMESTAMP
"""

import base64
import hashlib
import struct
import sys

import nacl.signing
from cryptography.hazmat.primitives.asymmetric import mldsa


def key_id(name, typ, key):
    return hashlib.sha256(name.encode() + b"\n" + bytes([typ]) + key).digest()[:4]


def main():
    name, ts = sys.argv[1], int(sys.argv[2])
    text = sys.stdin.read()
    origin, size, root_b64 = text.split("\n")[:3]
    ed = nacl.signing.SigningKey(bytes(range(32)))
    ml = mldsa.MLDSA44PrivateKey.generate()
    ed_pub = bytes(ed.verify_key)
    ml_pub = ml.public_key().public_bytes_raw()
    for typ, pub in ((0x04, ed_pub), (0x06, ml_pub)):
        print(f"{name}+{key_id(name, typ, pub).hex()}+{base64.b64encode(bytes([typ]) + pub).decode()}")
    ed_msg = f"cosignature/v1\ntime {ts}\n{text}".encode()
    ed_sig = ed.sign(ed_msg).signature
    ml_msg = (b"subtree/v1\n\x00" + bytes([len(name)]) + name.encode() + struct.pack(">Q", ts)
              + bytes([len(origin)]) + origin.encode() + struct.pack(">QQ", 0, int(size))
              + base64.b64decode(root_b64))
    ml_sig = ml.sign(ml_msg)
    for typ, pub, sig in ((0x04, ed_pub, ed_sig), (0x06, ml_pub, ml_sig)):
        raw = key_id(name, typ, pub) + struct.pack(">Q", ts) + sig
        print(f"\u2014 {name} {base64.b64encode(raw).decode()}")


if __name__ == "__main__":
    main()
