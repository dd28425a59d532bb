// sigstore-js as an independent verifier, fully offline from a trusted_root.json.
// usage: node verify.js TRUSTED_ROOT BUNDLE ARTIFACT IDENTITY ISSUER
// For DSSE bundles the artifact must be an in-toto subject (sha256).
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const { bundleFromJSON } = require('@sigstore/bundle');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

function main() {
  const [rootPath, bundlePath, artifactPath, identity, issuer] = process.argv.slice(2);
  const root = TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(rootPath, 'utf8')));
  const raw = JSON.parse(fs.readFileSync(bundlePath, 'utf8'));
  const bundle = bundleFromJSON(raw);
  const artifact = fs.readFileSync(artifactPath);
  const verifier = new Verifier(toTrustMaterial(root), { tlogThreshold: 1, ctlogThreshold: 1, tsaThreshold: 0 });
  const policy = { subjectAlternativeName: identity, extensions: { issuer } };
  const isDsse = Boolean(raw.dsseEnvelope);
  const signer = verifier.verify(toSignedEntity(bundle, isDsse ? undefined : artifact), policy);
  if (isDsse) {
    const statement = JSON.parse(Buffer.from(raw.dsseEnvelope.payload, 'base64').toString('utf8'));
    const want = crypto.createHash('sha256').update(artifact).digest('hex');
    if (!statement.subject.some((s) => s.digest && s.digest.sha256 === want)) {
      throw new Error('artifact is not a subject of the attestation');
    }
  }
  console.log(JSON.stringify({ verified: true, san: signer.identity && signer.identity.subjectAlternativeName }));
}

try {
  main();
} catch (e) {
  console.error('sigstore-js verify failed:', e && e.message ? e.message : e);
  process.exit(1);
}
