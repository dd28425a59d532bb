"""python-tuf (tuf.ngclient) as an independent client of a vouch TUF repository.

usage: tuf_client.py METADATA_BASE_URL BOOTSTRAP_ROOT_FILE WORKDIR TARGET_NAME...
Prints one line per target: "<name> <sha256 hex> <length>"; exits non-zero on any failure.
"""
import hashlib
import os
import sys

from tuf.ngclient import Updater


def main() -> int:
    base, root_file, work, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    metadata_dir = os.path.join(work, "metadata")
    target_dir = os.path.join(work, "targets")
    os.makedirs(metadata_dir, exist_ok=True)
    os.makedirs(target_dir, exist_ok=True)
    with open(root_file, "rb") as f:
        root = f.read()
    base = base.rstrip("/")
    updater = Updater(
        metadata_dir=metadata_dir,
        metadata_base_url=base + "/",
        target_base_url=base + "/targets/",
        target_dir=target_dir,
        bootstrap=root,
    )
    updater.refresh()
    print("versions root=%d timestamp=%d snapshot=%d targets=%d" % (
        updater._trusted_set.root.version,
        updater._trusted_set.timestamp.version,
        updater._trusted_set.snapshot.version,
        updater._trusted_set.targets.version,
    ))
    for name in names:
        info = updater.get_targetinfo(name)
        if info is None:
            print("missing target %s" % name, file=sys.stderr)
            return 2
        path = updater.download_target(info)
        with open(path, "rb") as f:
            data = f.read()
        print("%s %s %d" % (name, hashlib.sha256(data).hexdigest(), len(data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
