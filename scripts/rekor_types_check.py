#!/usr/bin/env python3
"""Checks vouch's Rekor v1 API output against the upstream Rekor OpenAPI models
(PyPI `sigstore-rekor-types`, generated from Rekor's swagger).

Reads the requests, stored bodies and error responses that the vouch-log v1 test writes when run
with VOUCH_V1_DUMP=DIR: every stored v1 body must validate as a `ProposedEntry` and round-trip
unchanged, every error must validate as `Error`.

Usage: rekor_types_check.py DIR
"""
import glob
import json
import os
import sys

from pydantic import TypeAdapter
import rekor_types as rt


def main():
    d = sys.argv[1]
    pe = TypeAdapter(rt.ProposedEntry)
    bad = n = 0
    for f in sorted(glob.glob(os.path.join(d, "body-*.json"))):
        body = json.load(open(f))
        if body.get("apiVersion") == "0.0.2" and body.get("kind") == "hashedrekord":
            continue  # a Rekor v2 body, not a v1 type
        n += 1
        try:
            m = pe.validate_python(body)
            back = json.loads(m.model_dump_json(by_alias=True, exclude_none=True))
            if back != body:
                print("DIFF", f)
                bad += 1
        except Exception as e:  # noqa: BLE001
            print("FAIL", f, e)
            bad += 1
    for f in sorted(glob.glob(os.path.join(d, "error-*.json"))):
        n += 1
        try:
            rt.Error.model_validate(json.load(open(f)))
        except Exception as e:  # noqa: BLE001
            print("FAIL", f, e)
            bad += 1
    if n == 0:
        sys.exit("no dumped bodies found in " + d)
    print("rekor_types_check: %d v1 bodies and errors checked against sigstore-rekor-types, %d bad" % (n, bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
