// sigstore-js as an independent signing client: reads a SigningConfig, signs FILE with the
// identity token in $SIGSTORE_ID_TOKEN, writes the bundle JSON.
// usage: node sign.js SIGNING_CONFIG FILE OUT [message|dsse]
'use strict';
const fs = require('fs');
const { SigningConfig } = require('@sigstore/protobuf-specs');
const { bundleBuilderFromSigningConfig } = require('@sigstore/sign');
const { bundleToJSON } = require('@sigstore/bundle');

async function main() {
  const [configPath, file, out, mode] = process.argv.slice(2);
  const config = SigningConfig.fromJSON(JSON.parse(fs.readFileSync(configPath, 'utf8')));
  const token = process.env.SIGSTORE_ID_TOKEN;
  if (!token) throw new Error('SIGSTORE_ID_TOKEN is not set');
  const dsse = mode === 'dsse';
  const builder = bundleBuilderFromSigningConfig({
    signingConfig: config,
    identityProvider: { getToken: async () => token },
    bundleType: dsse ? 'dsseEnvelope' : 'messageSignature',
  });
  const artifact = { data: fs.readFileSync(file) };
  if (dsse) artifact.type = 'application/vnd.in-toto+json';
  const bundle = await builder.create(artifact);
  fs.writeFileSync(out, JSON.stringify(bundleToJSON(bundle), null, 2));
}

main().catch((e) => {
  console.error('sigstore-js sign failed:', e && e.stack ? e.stack : e);
  process.exit(1);
});
