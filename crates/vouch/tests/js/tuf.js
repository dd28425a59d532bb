// sigstore-js's TUF client (@sigstore/tuf) as an independent reader of our TUF repository:
// bootstraps from ROOT, refreshes from MIRROR, and writes the verified trusted_root.json to OUT.
// usage: node tuf.js MIRROR ROOT CACHE_DIR OUT
'use strict';
const fs = require('fs');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const { initTUF } = require('@sigstore/tuf');

async function main() {
  const [mirrorURL, rootPath, cachePath, out] = process.argv.slice(2);
  const tuf = await initTUF({ mirrorURL, rootPath, cachePath, forceInit: true, forceCache: false });
  const root = JSON.parse(await tuf.getTarget('trusted_root.json'));
  TrustedRoot.fromJSON(root); // must parse as a TrustedRoot
  JSON.parse(await tuf.getTarget('signing_config.v0.2.json'));
  fs.writeFileSync(out, JSON.stringify(root, null, 2));
}

main().catch((e) => {
  console.error('sigstore-js TUF failed:', e && e.message ? e.message : e);
  process.exit(1);
});
