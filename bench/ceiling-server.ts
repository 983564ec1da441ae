// The ceiling reference from DESIGN.md: a bare uWebSockets.js handler that
// returns a manifest from memory, nothing else (no routing, auth, storage or
// logging). Run as `node dist/bench/ceiling-server.js <port>`.
import uws from 'uWebSockets.js';
import { createHash } from 'node:crypto';

const port = Number(process.argv[2]);
const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'a'.repeat(64)}`, size: 120 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${'b'.repeat(64)}`, size: 10485760 }],
  }),
);
const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;

uws
  .App()
  .get('/*', (res) => {
    res.cork(() => {
      res.writeHeader('Content-Type', 'application/vnd.oci.image.manifest.v1+json');
      res.writeHeader('Docker-Content-Digest', digest);
      res.end(manifest);
    });
  })
  .listen('127.0.0.1', port, (s) => {
    if (!s) {
      process.stderr.write(`cannot listen on ${port}\n`);
      process.exit(1);
    }
  });
