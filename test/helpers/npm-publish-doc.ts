// The JSON body of an npm publish (`PUT /<name>`): one version, its tarball attached.
import { createHash } from 'node:crypto';

export function publishDoc(name: string, version: string, data: Buffer, over: Record<string, unknown> = {}): Record<string, unknown> {
  const base = name.includes('/') ? name.split('/')[1]! : name;
  return {
    _id: name,
    name,
    'dist-tags': { latest: version },
    versions: {
      [version]: {
        name,
        version,
        dist: {
          integrity: 'sha512-' + createHash('sha512').update(data).digest('base64'),
          shasum: createHash('sha1').update(data).digest('hex'),
          tarball: `http://x/${name}/-/${base}-${version}.tgz`,
        },
      },
    },
    _attachments: { [`${base}-${version}.tgz`]: { content_type: 'application/octet-stream', data: data.toString('base64'), length: data.length } },
    ...over,
  };
}
