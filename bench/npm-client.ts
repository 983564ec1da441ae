// The npm calls the bench makes to seed a package: the same publish documents
// (what `npm publish` PUTs: the version's manifest and the tarball as a base64
// attachment) go to nora-ts and to Verdaccio, then both reads are checked.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { generatedBuffer } from './content.js';
import { HttpStatusError, send } from './registry-client.js';

export const NPM_ABBREVIATED = 'application/vnd.npm.install-v1+json';

/** One ustar entry (header + content padded to 512 bytes). */
function tarEntry(name: string, data: Buffer): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148); // checksum field counts as spaces while summing
  h.write('0', 156);
  h.write('ustar\0' + '00', 257);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return Buffer.concat([h, data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

/** A package tarball as npm packs it: package/package.json and an index.js of `payload` bytes. */
export function packTarball(name: string, version: string, payload: number, seed: number): Buffer {
  const manifest = Buffer.from(JSON.stringify({ name, version, main: 'index.js', license: 'MIT' }, null, 2));
  const body = Buffer.from(`module.exports = ${JSON.stringify(generatedBuffer(seed, payload).toString('base64'))};\n`);
  return gzipSync(Buffer.concat([tarEntry('package/package.json', manifest), tarEntry('package/index.js', body), Buffer.alloc(1024)]));
}

export interface SeededPackage {
  packumentPath: string;
  tarballPath: string;
  versions: number;
}

function ok(r: { status: number; body: Buffer }, what: string, ...codes: number[]): void {
  if (!codes.includes(r.status)) throw new HttpStatusError(what, r.status, r.body.toString());
}

/**
 * Publishes `versions` versions of `name` under `npmBase` (the registry's npm
 * URL), each with its own tarball, then reads the abbreviated packument and
 * the newest tarball back.
 */
export async function seedPackage(npmBase: string, name: string, versions: number, payload: number, auth: string): Promise<SeededPackage> {
  const headers = { Authorization: auth, 'Content-Type': 'application/json' };
  let last: Buffer = Buffer.alloc(0);
  let lastVersion = '';
  for (let i = 0; i < versions; i++) {
    const version = `1.0.${i}`;
    const tgz = packTarball(name, version, payload, 100 + i);
    const file = `${name}-${version}.tgz`;
    const doc = {
      _id: name,
      name,
      description: 'bench package',
      'dist-tags': { latest: version },
      versions: {
        [version]: {
          name,
          version,
          description: 'bench package',
          main: 'index.js',
          license: 'MIT',
          _id: `${name}@${version}`,
          dist: {
            integrity: `sha512-${createHash('sha512').update(tgz).digest('base64')}`,
            shasum: createHash('sha1').update(tgz).digest('hex'),
            tarball: `${npmBase}/${name}/-/${file}`,
          },
        },
      },
      _attachments: { [file]: { content_type: 'application/octet-stream', data: tgz.toString('base64'), length: tgz.length } },
    };
    ok(await send(`${npmBase}/${name}`, 'PUT', headers, Buffer.from(JSON.stringify(doc))), `npm publish ${name}@${version}`, 200, 201);
    last = tgz;
    lastVersion = version;
  }
  const url = new URL(npmBase);
  const seeded = {
    packumentPath: `${url.pathname.replace(/\/$/, '')}/${name}`,
    tarballPath: `${url.pathname.replace(/\/$/, '')}/${name}/-/${name}-${lastVersion}.tgz`,
    versions,
  };
  const p = await send(`${url.origin}${seeded.packumentPath}`, 'GET', { Authorization: auth, Accept: NPM_ABBREVIATED });
  ok(p, `GET ${seeded.packumentPath}`, 200);
  const doc = JSON.parse(p.body.toString()) as { versions?: Record<string, unknown> };
  if (Object.keys(doc.versions ?? {}).length !== versions) throw new Error(`GET ${seeded.packumentPath}: not ${versions} versions`);
  const t = await send(`${url.origin}${seeded.tarballPath}`, 'GET', { Authorization: auth });
  ok(t, `GET ${seeded.tarballPath}`, 200);
  if (!t.body.equals(last)) throw new Error(`GET ${seeded.tarballPath} returned other bytes than were published`);
  return seeded;
}

/** PUT /-/user/org.couchdb.user:<name> (Verdaccio): creates the user, answers its token. */
export async function createNpmUser(base: string, user: string, password: string): Promise<string> {
  const body = Buffer.from(JSON.stringify({ name: user, password }));
  const r = await send(`${base}/-/user/org.couchdb.user:${encodeURIComponent(user)}`, 'PUT', { 'Content-Type': 'application/json' }, body);
  ok(r, 'PUT /-/user', 201);
  const token = (JSON.parse(r.body.toString()) as { token?: string }).token;
  if (!token) throw new Error('PUT /-/user: no token in the answer');
  return token;
}
