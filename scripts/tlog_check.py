#!/usr/bin/env python3
"""Independent reader of a C2SP tlog-tiles log, written from the specs with the Python stdlib only.

Fetches <url>/checkpoint, every level-0 hash tile and entry bundle it covers, checks that each
tile hash is SHA-256(0x00 || entry), recomputes the RFC 6962 root of all leaves and compares it
with the checkpoint's root hash. Exit 0 and a summary on success; non-zero with the reason otherwise.

Usage: tlog_check.py URL
"""
import base64
import hashlib
import sys
import urllib.request


def get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read()


def fmt_index(n):
    groups = []
    while True:
        groups.append(n % 1000)
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join(("x%03d" if i < len(groups) - 1 else "%03d") % g for i, g in enumerate(groups))


def mth(leaves):
    """RFC 6962 Merkle tree hash over leaf hashes."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def main():
    base = sys.argv[1].rstrip("/")
    note = get(base + "/checkpoint").decode()
    text = note.split("\n\n")[0].split("\n")
    origin, size, root = text[0], int(text[1]), base64.b64decode(text[2])
    leaves = []
    for t in range((size + 255) // 256):
        width = min(256, size - t * 256)
        suffix = "" if width == 256 else ".p/%d" % width
        tile = get("%s/tile/0/%s%s" % (base, fmt_index(t), suffix))
        bundle = get("%s/tile/entries/%s%s" % (base, fmt_index(t), suffix))
        if len(tile) != 32 * width:
            sys.exit("tile %d has %d bytes, expected %d" % (t, len(tile), 32 * width))
        hashes = [tile[i:i + 32] for i in range(0, len(tile), 32)]
        pos, n = 0, 0
        while pos < len(bundle):
            ln = int.from_bytes(bundle[pos:pos + 2], "big")
            entry = bundle[pos + 2:pos + 2 + ln]
            if hashlib.sha256(b"\x00" + entry).digest() != hashes[n]:
                sys.exit("entry %d does not hash to its tile leaf" % (t * 256 + n))
            pos += 2 + ln
            n += 1
        if n != width:
            sys.exit("entry bundle %d has %d entries, expected %d" % (t, n, width))
        leaves.extend(hashes)
    got = mth(leaves)
    if got != root:
        sys.exit("root mismatch: tiles give %s, checkpoint says %s" % (got.hex(), root.hex()))
    print("tlog_check: %s size %d root %s: tiles and entry bundles reproduce the checkpoint root" % (origin, size, root.hex()))


if __name__ == "__main__":
    main()
