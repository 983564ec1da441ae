// `npm publish`: PUT /npm/<name> with the package document and the tarball(s)
// base64-encoded in `_attachments`. Tarballs are checked (base64, gzip,
// integrity, shasum), stored content-addressed, and the versions merged into the
// package under its lock. Published versions are immutable (409).
import { Readable } from 'node:stream';
import type { Context } from '../../main/protocol.js';
import type { Reply, Req } from '../../main/http/types.js';
import { HttpError } from '../../main/errors.js';
import { tarballFile, type PackageName } from './names.js';
import { isSemver } from './semver.js';
import { decodeAttachment, verifyTarball, type TarballDigests } from './integrity.js';
import { checkTag, ensureLatest } from './dist-tags.js';
import { emptyState, revString, type Manifest, type NpmStore, type PackageState } from './store.js';

/** Package-level fields taken from the version that becomes `latest`. */
const INFO_FIELDS = ['description', 'readme', 'readmeFilename', 'homepage', 'keywords', 'repository', 'author', 'bugs', 'license'];

interface Incoming {
  version: string;
  manifest: Manifest;
  file: string;
  data: Buffer;
  digests: TarballDigests;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** Versions of `incoming` that may not be published over what is stored. */
function conflicts(state: PackageState | null, incoming: Incoming[]): string | null {
  if (!state) return null;
  const taken = incoming.filter((i) => state.versions[i.version] || state.unpublished[i.version]).map((i) => i.version);
  if (!taken.length) return null;
  return `cannot publish over previously published version${taken.length > 1 ? 's' : ''} ${taken.join(', ')} of ${state.name}`;
}

export function createPublish(ctx: Context, store: NpmStore) {
  /** Everything that can be checked without touching storage. */
  function parse(name: PackageName, doc: Record<string, unknown>): Incoming[] {
    const versions = doc.versions;
    if (!isObject(versions) || Object.keys(versions).length === 0) throw new HttpError('BAD_REQUEST', 'publish document has no versions');
    const attachments = doc._attachments as Record<string, unknown>;
    // npm names the attachment after the full name (`@scope/name-1.0.0.tgz`); keyed here by the bare file name.
    const tarballs = new Map<string, unknown>();
    for (const [key, att] of Object.entries(attachments)) {
      const file = name.scope && key.startsWith(`@${name.scope}/`) ? key.slice(name.scope.length + 2) : key;
      if (!file.endsWith('.tgz')) continue; // e.g. a provenance bundle: not stored
      if (!/^[A-Za-z0-9._-]+$/.test(file)) throw new HttpError('BAD_REQUEST', `invalid attachment file name ${JSON.stringify(key)}`);
      tarballs.set(file, att);
    }
    const out: Incoming[] = [];
    for (const [version, m] of Object.entries(versions)) {
      if (!isSemver(version)) throw new HttpError('BAD_REQUEST', `invalid version ${JSON.stringify(version)}: not semver`);
      if (!isObject(m)) throw new HttpError('BAD_REQUEST', `version ${version} is not an object`);
      if (m.version !== version) throw new HttpError('BAD_REQUEST', `version ${version} has version field ${JSON.stringify(m.version)}`);
      if (m.name !== name.full) throw new HttpError('BAD_REQUEST', `version ${version} names package ${JSON.stringify(m.name)}, not ${name.full}`);
      const file = tarballFile(name, version);
      const att = tarballs.get(file);
      if (att === undefined) throw new HttpError('BAD_REQUEST', `no tarball attachment ${file} for version ${version}`);
      tarballs.delete(file);
      const data = decodeAttachment(file, att);
      const digests = verifyTarball(version, data, m.dist);
      out.push({ version, manifest: m as Manifest, file, data, digests });
    }
    const stray = [...tarballs.keys()];
    if (stray.length) throw new HttpError('BAD_REQUEST', `attachment ${stray[0]} belongs to no version in the document`);
    return out;
  }

  function stored(i: Incoming, user: string): Manifest {
    const { readme: _readme, readmeFilename: _rf, _attachments: _a, ...rest } = i.manifest;
    const dist = { ...(i.manifest.dist as Record<string, unknown>) };
    delete dist.tarball;
    dist.shasum = i.digests.sha1;
    dist.integrity ??= `sha512-${Buffer.from(i.digests.sha512, 'hex').toString('base64')}`;
    return { ...rest, name: i.manifest.name, version: i.version, _id: `${i.manifest.name}@${i.version}`, _npmUser: { name: user }, dist };
  }

  return {
    async publish(req: Req, reply: Reply, name: PackageName, doc: Record<string, unknown>): Promise<void> {
      const incoming = parse(name, doc);
      const tags = doc['dist-tags'] === undefined ? { latest: incoming[incoming.length - 1]!.version } : doc['dist-tags'];
      if (!isObject(tags)) throw new HttpError('BAD_REQUEST', 'dist-tags must be an object');
      for (const [tag, v] of Object.entries(tags)) {
        checkTag(tag);
        if (typeof v !== 'string' || !incoming.some((i) => i.version === v) ) {
          // A publish may only tag what it publishes; moving other tags is `npm dist-tag`'s job.
          throw new HttpError('BAD_REQUEST', `dist-tag ${tag} must point to a version in this publish`);
        }
      }
      // Fail fast before storing anything; checked again under the lock.
      const early = conflicts(await store.read(name.full), incoming);
      if (early) throw new HttpError('CONFLICT', early);

      const user = req.identity?.user ?? 'anonymous';
      const rev = await store.update(name.full, async (cur) => {
        const late = conflicts(cur, incoming);
        if (late) throw new HttpError('CONFLICT', late);
        // Stored only once nothing can refuse the publish, so a refusal leaves no stray blob.
        for (const i of incoming) {
          await ctx.blobs.put(Readable.from([i.data]), { algorithm: 'sha512', hex: i.digests.sha512, value: `sha512:${i.digests.sha512}` });
        }
        const now = new Date().toISOString();
        const s = cur ? structuredClone(cur) : emptyState(name.full, now);
        for (const i of incoming) {
          s.versions[i.version] = stored(i, user);
          s.times[i.version] = now;
          s.files[i.file] = { version: i.version, sha512: i.digests.sha512, sha1: i.digests.sha1, size: i.data.length };
        }
        Object.assign(s.distTags, tags as Record<string, string>);
        ensureLatest(s);
        const latest = incoming.find((i) => i.version === s.distTags.latest);
        if (latest) {
          for (const k of INFO_FIELDS) {
            const v = latest.manifest[k] ?? (k === 'description' ? doc.description : undefined);
            if (v !== undefined) s.info[k] = v;
            else delete s.info[k];
          }
        }
        if (!s.maintainers.some((m) => m.name === user)) s.maintainers.push({ name: user });
        return { state: s, result: s };
      });
      reply.json(201, { ok: true, id: name.full, rev: revString(rev) });
    },
  };
}
