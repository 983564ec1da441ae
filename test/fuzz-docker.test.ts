// Property-based tests (fast-check) for the Docker/OCI parsers: repository
// names, references, routes, Content-Range of upload chunks, manifests. Each
// property runs a bounded number of generated cases; a failure prints the seed
// and the smallest input that breaks it.
import t from 'tap';
import fc from 'fast-check';
import { join, resolve, sep } from 'node:path';
import { HttpError } from '../src/main/errors.js';
import { OciError } from '../src/protocols/docker/errors.js';
import { checkKey } from '../src/main/storage/keys.js';
import { digestOf, parseDigest } from '../src/main/digest.js';
import { checkDigest, isValidName, isValidTag, parseReference, MAX_NAME_LENGTH } from '../src/protocols/docker/names.js';
import { parseRoute } from '../src/protocols/docker/routes.js';
import { parseChunkRange, uploadedRange } from '../src/protocols/docker/content-range.js';
import { layerLinkKey, referrerKey, revisionKey, tagKey, tagsPrefix } from '../src/protocols/docker/layout.js';
import { parseManifest, OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST, DOCKER_LIST } from '../src/protocols/docker/manifest-parse.js';
import { check, iterations, trickyString } from './helpers/fuzz.js';

const ROOT = resolve('/srv/nora-fuzz-root');

/** A refusal must be an HttpError with a 4xx status, never a crash. */
function refusedCleanly(e: unknown): boolean {
  return e instanceof HttpError && e.status >= 400 && e.status < 500;
}

function staysInside(key: string): boolean {
  checkKey(key);
  const p = resolve(ROOT, key);
  return p.startsWith(ROOT + sep);
}

const component = fc.stringMatching(/^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/, { size: 'small' });
const validName = fc.array(component, { minLength: 1, maxLength: 5 }).map((c) => c.join('/')).filter((n) => n.length <= MAX_NAME_LENGTH);
const validTag = fc.stringMatching(/^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/);
const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const validDigest = fc.oneof(hex(64).map((h) => `sha256:${h}`), hex(128).map((h) => `sha512:${h}`));

t.test('repository names: generated valid names are accepted, every accepted name makes safe storage keys', async (t) => {
  check(t, 'valid names accepted', fc.property(validName, (n) => isValidName(n)), 1000);
  const anyName = fc.oneof(validName, trickyString(), fc.string({ unit: 'binary', maxLength: 300 }));
  check(t, 'accepted names make keys inside the root',
    fc.property(anyName, validTag, validDigest, (n, tag, d) => {
      if (!isValidName(n)) return true;
      const dg = parseDigest(d)!;
      if (n.split('/').some((c) => c === '.' || c === '..' || c === '' || c.startsWith('_'))) return false;
      return [layerLinkKey(n, dg), revisionKey(n, dg), tagKey(n, tag), tagsPrefix(n), referrerKey(n, dg, dg)].every(staysInside);
    }),
    2000,
  );
});

t.test('references: a tag, a supported digest, or a 4xx', async (t) => {
  const anyRef = fc.oneof(validTag, validDigest, trickyString(), fc.string({ unit: 'binary', maxLength: 200 }), validDigest.map((d) => d.toUpperCase()));
  check(t, 'parseReference: tag, digest or 4xx',
    fc.property(anyRef, (s) => {
      let ref;
      try {
        ref = parseReference(s);
      } catch (e) {
        return refusedCleanly(e) && !isValidTag(s) && parseDigest(s) === null;
      }
      if (ref.kind === 'tag') return ref.tag === s && isValidTag(s) && !s.includes(':');
      return ref.digest.value === s && parseDigest(s) !== null;
    }),
    2000,
  );
  check(t, 'checkDigest: only sha256/sha512 lower-case hex',
    fc.property(fc.oneof(validDigest, trickyString(), fc.string({ maxLength: 140 })), (s) => {
      try {
        const d = checkDigest(s);
        return d.value === s && /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/.test(s);
      } catch (e) {
        return refusedCleanly(e);
      }
    }),
    1000,
  );
});

t.test('routes: every /v2/ path parses, is unknown, or is a clean 4xx; built routes round-trip', async (t) => {
  const segment = fc.oneof(trickyString(4), component, validTag, validDigest, fc.constantFrom('blobs', 'uploads', 'manifests', 'tags', 'list', 'referrers', '_catalog', ''));
  const anyPath = fc.array(segment, { maxLength: 8 }).map((s) => `/v2/${s.join('/')}`);
  check(t, 'parseRoute never crashes',
    fc.property(anyPath, (p) => {
      try {
        const r = parseRoute(p);
        if (!r) return true;
        // Whatever was parsed is a decoded segment or '/'-joined segments, never more.
        return Object.values(r).every((v) => typeof v === 'string');
      } catch (e) {
        return refusedCleanly(e);
      }
    }),
    2000,
  );
  // Names may contain "blobs", "manifests", "uploads", "tags": parsing from the right keeps them intact.
  const trickyName = fc
    .array(fc.oneof(component, fc.constantFrom('blobs', 'uploads', 'manifests', 'tags', 'list', 'referrers')), { minLength: 1, maxLength: 5 })
    .map((c) => c.join('/'));
  const uuid = fc.uuid();
  check(t, 'built routes round-trip',
    fc.property(trickyName, validTag, validDigest, uuid, (name, tag, digest, id) => {
      const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
      return (
        same(parseRoute(`/v2/${name}/manifests/${tag}`), { kind: 'manifest', name, reference: tag }) &&
        same(parseRoute(`/v2/${name}/manifests/${digest}`), { kind: 'manifest', name, reference: digest }) &&
        same(parseRoute(`/v2/${name}/blobs/${digest}`), { kind: 'blob', name, digest }) &&
        same(parseRoute(`/v2/${name}/blobs/uploads/`), { kind: 'uploads', name }) &&
        same(parseRoute(`/v2/${name}/blobs/uploads/${id}`), { kind: 'upload', name, uuid: id }) &&
        same(parseRoute(`/v2/${name}/tags/list`), { kind: 'tags', name }) &&
        same(parseRoute(`/v2/${name}/referrers/${digest}`), { kind: 'referrers', name, digest })
      );
    }),
    1500,
  );
});

t.test('Content-Range of upload chunks: agrees with a reference model', async (t) => {
  const num = fc.oneof(fc.nat({ max: 1000 }), fc.bigInt({ min: 0n, max: 10n ** 22n }).map(String), fc.constantFrom('', '-1', '00', '0x1', ' 1'));
  const header = fc.oneof(
    fc.tuple(num, num).map(([a, b]) => `${a}-${b}`),
    fc.tuple(num, num, fc.oneof(num, fc.constant('*'))).map(([a, b, c]) => `bytes ${a}-${b}/${c}`),
    trickyString(6),
    fc.string({ unit: 'binary', maxLength: 40 }),
  );
  const model = (h: string): { start: number; end: number } | null => {
    const v = h.trim();
    const m = /^(\d{1,15})-(\d{1,15})$/.exec(v) ?? /^bytes (\d{1,15})-(\d{1,15})\/(?:\d{1,15}|\*)$/.exec(v);
    if (!m) return null;
    const [start, end] = [Number(m[1]), Number(m[2])];
    return end < start ? null : { start, end };
  };
  check(t, 'parseChunkRange agrees with the model',
    fc.property(header, (h) => {
      const got = parseChunkRange(h);
      const want = model(h);
      if (got === null || want === null) return got === want;
      return got.start === want.start && got.end === want.end && Number.isSafeInteger(got.end) && got.start <= got.end;
    }),
    2000,
  );
  check(t, 'uploadedRange parses back', fc.property(fc.nat({ max: 2 ** 40 }), (n) => parseChunkRange(uploadedRange(n)) !== null), 500);
});

t.test('manifests: any body parses or is MANIFEST_INVALID; generated valid manifests keep every reference', async (t) => {
  const types = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST, 'application/json', '', 'text/plain', 'application/vnd.docker.distribution.manifest.v1+prettyjws'];
  const ct = fc.oneof(fc.constantFrom(...types), trickyString(3));
  const body = fc.oneof(
    fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
    fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
    fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(s)),
  );
  check(t, 'any body: parsed or MANIFEST_INVALID',
    fc.property(body, ct, (b, c) => {
      try {
        parseManifest(b, c);
        return true;
      } catch (e) {
        return refusedCleanly(e) && e instanceof OciError && e.oci === 'MANIFEST_INVALID';
      }
    }),
    2000,
  );
  // Structured but wrong: right shape with random field values.
  const descriptor = fc.record(
    {
      mediaType: fc.oneof(fc.constant('application/vnd.oci.image.layer.v1.tar+gzip'), fc.jsonValue({ maxDepth: 1 })),
      digest: fc.oneof(validDigest, trickyString(4), fc.jsonValue({ maxDepth: 1 })),
      size: fc.oneof(fc.nat(), fc.double(), fc.constant(-1), fc.jsonValue({ maxDepth: 1 })),
      annotations: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.jsonValue({ maxDepth: 2 })),
      urls: fc.oneof(fc.array(fc.string()), fc.jsonValue({ maxDepth: 2 })),
    },
    { requiredKeys: [] },
  );
  const doc = fc.record(
    {
      schemaVersion: fc.oneof(fc.constant(2), fc.jsonValue({ maxDepth: 0 })),
      mediaType: fc.oneof(fc.constantFrom(...types), fc.jsonValue({ maxDepth: 0 })),
      config: descriptor,
      layers: fc.oneof(fc.array(descriptor, { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 })),
      manifests: fc.oneof(fc.array(descriptor, { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 })),
      subject: descriptor,
      artifactType: fc.jsonValue({ maxDepth: 0 }),
    },
    { requiredKeys: [] },
  );
  check(t, 'structured wrong manifests: parsed references are sound, or 4xx',
    fc.property(doc, ct, (d, c) => {
      try {
        const p = parseManifest(Buffer.from(JSON.stringify(d)), c);
        // Everything it reports as a reference is a well-formed supported digest.
        return [...p.blobs, ...p.children, ...(p.subject ? [p.subject] : [])].every((x) => parseDigest(x.digest.value) !== null && Number.isSafeInteger(x.size) && x.size >= 0);
      } catch (e) {
        return refusedCleanly(e);
      }
    }),
    2000,
  );
  const goodDesc = fc.record({ mediaType: fc.constant('application/vnd.oci.image.layer.v1.tar+gzip'), digest: validDigest, size: fc.nat() });
  check(t, 'valid manifests keep their references',
    fc.property(goodDesc, fc.array(goodDesc, { maxLength: 5 }), fc.array(goodDesc, { maxLength: 5 }), (config, layers, children) => {
      const image = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers })), OCI_MANIFEST);
      const index = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: children })), 'application/json');
      return (
        JSON.stringify(image.blobs.map((b) => b.digest.value)) === JSON.stringify([config, ...layers].map((b) => b.digest)) &&
        index.mediaType === OCI_INDEX &&
        JSON.stringify(index.children.map((b) => b.digest.value)) === JSON.stringify(children.map((b) => b.digest))
      );
    }),
    1000,
  );
});

t.test('digest of any bytes parses back', async (t) => {
  check(t, 'digestOf parses back to a safe blob key',
    fc.property(fc.uint8Array({ maxLength: 256 }), fc.constantFrom('sha256' as const, 'sha512' as const), (a, alg) => {
      const d = digestOf(Buffer.from(a), alg);
      const p = parseDigest(d);
      return p !== null && p.value === d && staysInside(join('blobs', p.algorithm, p.hex.slice(0, 2), p.hex));
    }),
    500,
  );
  t.comment(`fuzz-docker iterations: ${iterations()}`);
});
