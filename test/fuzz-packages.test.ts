// Property-based tests (fast-check) for the npm and PyPI parsers: package and
// project names (and the storage keys made from them), npm routes, semver
// precedence, tarball attachments and integrity, distribution file names, and
// the streaming multipart parser under any chunking.
import t from 'tap';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { resolve, sep } from 'node:path';
import { HttpError } from '../src/main/errors.js';
import { checkKey } from '../src/main/storage/keys.js';
import { parseName } from '../src/protocols/npm/names.js';
import { parseRoute } from '../src/protocols/npm/routes.js';
import { compareSemver, isSemver, parseSemver } from '../src/protocols/npm/semver.js';
import { decodeAttachment, verifyTarball } from '../src/protocols/npm/integrity.js';
import { filenameProblem, isNormalized, isValidProject, normalize, belongsTo } from '../src/protocols/pypi/normalize.js';
import { boundaryOf, MultipartError, parseMultipart } from '../src/protocols/pypi/multipart.js';
import { check, checkAsync, iterations, trickyString } from './helpers/fuzz.js';

const ROOT = resolve('/srv/nora-fuzz-packages');
const inside = (key: string) => {
  checkKey(key);
  return resolve(ROOT, key).startsWith(ROOT + sep);
};
const refusedCleanly = (e: unknown) => e instanceof HttpError && e.status >= 400 && e.status < 500;

t.test('npm names: every accepted name is a safe storage key', async (t) => {
  const part = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/);
  const valid = fc.oneof(part, fc.tuple(part, part).map(([s, n]) => `@${s}/${n}`));
  check(t, 'generated names are accepted', fc.property(valid, (n) => parseName(n) !== null), 1000);
  check(t, 'accepted names make keys inside the root',
    fc.property(fc.oneof(valid, trickyString(), fc.string({ unit: 'binary', maxLength: 220 }), fc.constant('a'.repeat(215))), (n) => {
      const p = parseName(n);
      if (!p) return true;
      return p.full === n && inside(`npm/${n}/package.json`) && !n.split('/').some((c) => c === '..' || c === '.');
    }),
    2000,
  );
  const seg = fc.oneof(trickyString(4), part, fc.constantFrom('-', '-rev', 'dist-tags', 'package', '@s', 'ping', 'v1', 'search', ''));
  check(t, 'npm routes never throw',
    fc.property(fc.array(seg, { maxLength: 7 }), (segs) => {
      const r = parseRoute(`/npm/${segs.join('/')}`);
      return typeof r.kind === 'string';
    }),
    2000,
  );
});

t.test('semver: parse round-trip and a total order', async (t) => {
  const num = fc.oneof(fc.nat({ max: 20 }), fc.nat());
  const ident = fc.oneof(fc.nat({ max: 30 }).map(String), fc.bigInt({ min: 1n, max: 10n ** 22n }).map(String), fc.stringMatching(/^[a-zA-Z-][0-9a-zA-Z-]{0,5}$/));
  const version = fc
    .tuple(num, num, num, fc.array(ident, { maxLength: 3 }), fc.array(fc.stringMatching(/^[0-9a-zA-Z-]{1,4}$/), { maxLength: 2 }))
    .map(([a, b, c, pre, build]) => `${a}.${b}.${c}${pre.length ? '-' + pre.join('.') : ''}${build.length ? '+' + build.join('.') : ''}`);
  check(t, 'generated versions parse', fc.property(version, (v) => isSemver(v) && parseSemver(v) !== null), 1000);
  check(t, 'compareSemver is antisymmetric, reflexive and transitive',
    fc.property(version, version, version, (a, b, c) => {
      const sign = (x: number) => Math.sign(x);
      if (compareSemver(a, a) !== 0) return false;
      if (sign(compareSemver(a, b)) !== -sign(compareSemver(b, a))) return false;
      if (compareSemver(a, b) <= 0 && compareSemver(b, c) <= 0 && compareSemver(a, c) > 0) return false;
      return true;
    }),
    2000,
  );
  // semver.org's precedence example, and spellings npm's semver would quietly clean up.
  const spec = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1+build.5'];
  t.same([...spec].reverse().sort(compareSemver), spec, 'semver.org precedence');
  for (const v of ['v1.2.3', '=1.2.3', ' 1.2.3', '1.2.3 ', '1.2.3+b\n', '\uFEFF1.2.3', '01.2.3', '1.2.3-01', '9007199254740992.0.0', `1.0.0-${'a'.repeat(251)}`]) {
    t.notOk(isSemver(v), `refused: ${JSON.stringify(v.slice(0, 20))}`);
  }
  check(t, 'isSemver never throws and never accepts path characters',
    fc.property(fc.oneof(trickyString(), fc.string({ unit: 'binary', maxLength: 300 })), (v) => !isSemver(v) || !/[/\\\0]|\.\./.test(v.split('+')[0]!)),
    1500,
  );
});

t.test('npm attachments and integrity: a verified digest or a 400, never anything else', async (t) => {
  const gz = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from(a)]));
  const att = fc.oneof(
    gz.map((b) => ({ data: b.toString('base64'), length: b.length })),
    fc.record({ data: fc.oneof(fc.base64String(), trickyString(5), fc.jsonValue({ maxDepth: 1 })), length: fc.oneof(fc.nat(), fc.jsonValue({ maxDepth: 0 })) }, { requiredKeys: [] }),
    fc.jsonValue({ maxDepth: 2 }),
  );
  check(t, 'decodeAttachment',
    fc.property(att, (a) => {
      try {
        const buf = decodeAttachment('x-1.0.0.tgz', a);
        return buf[0] === 0x1f && buf[1] === 0x8b && buf.toString('base64') === (a as { data: string }).data;
      } catch (e) {
        return refusedCleanly(e);
      }
    }),
    2000,
  );
  const sri = (alg: string, b: Buffer) => `${alg}-${createHash(alg).update(b).digest('base64')}`;
  check(t, 'verifyTarball accepts exactly matching digests',
    fc.property(gz, gz, fc.constantFrom('sha512', 'sha384', 'sha256', 'sha1'), fc.boolean(), (data, other, alg, useShasum) => {
      const dist = useShasum ? { shasum: createHash('sha1').update(other).digest('hex') } : { integrity: sri(alg, other) };
      try {
        const d = verifyTarball('1.0.0', data, dist);
        return data.equals(other) && d.sha512 === createHash('sha512').update(data).digest('hex');
      } catch (e) {
        return refusedCleanly(e) && !data.equals(other);
      }
    }),
    1500,
  );
  check(t, 'verifyTarball on any dist value',
    fc.property(gz, fc.jsonValue({ maxDepth: 3 }), (data, dist) => {
      try {
        verifyTarball('1.0.0', data, dist);
        return true;
      } catch (e) {
        return refusedCleanly(e);
      }
    }),
    1000,
  );
});

t.test('PyPI names and file names', async (t) => {
  const project = fc.oneof(fc.stringMatching(/^[A-Za-z0-9]([A-Za-z0-9._-]{0,30}[A-Za-z0-9])?$/), trickyString(), fc.string({ unit: 'binary', maxLength: 210 }));
  check(t, 'normalize is idempotent; normalised valid names make safe keys',
    fc.property(project, (p) => {
      if (!isValidProject(p)) return true;
      const n = normalize(p);
      return normalize(n) === n && isNormalized(n) && inside(`pypi/${n}/project.json`);
    }),
    2000,
  );
  const filename = fc.oneof(
    fc.tuple(fc.stringMatching(/^[a-z0-9_.-]{1,12}$/), fc.constantFrom('.whl', '.tar.gz', '.zip', '.tgz', '.egg', '.exe', '')).map(([a, b]) => a + b),
    trickyString(8).map((s) => `${s}.tar.gz`),
    fc.string({ unit: 'binary', maxLength: 260 }),
  );
  check(t, 'accepted file names carry no path or control characters',
    fc.property(filename, (f) => {
      if (filenameProblem(f) !== null) return true;
      return !/[/\\\0\s]/.test(f) && !f.includes('..') && f.length <= 255 && /^[\x21-\x7e]+$/.test(f);
    }),
    2000,
  );
  check(t, 'belongsTo never throws on accepted names',
    fc.property(filename, project, fc.string({ maxLength: 10 }), (f, p, v) => {
      if (filenameProblem(f) !== null || !isValidProject(p)) return true;
      return typeof belongsTo(f, normalize(p), v) === 'boolean';
    }),
    1000,
  );
});

t.test('multipart: any body resolves or fails with MultipartError; well-formed forms round-trip under any chunking', async (t) => {
  check(t, 'boundaryOf',
    fc.property(fc.oneof(trickyString(), fc.string({ maxLength: 100 }).map((b) => `multipart/form-data; boundary=${b}`), fc.constant(undefined)), (ct) => {
      const b = boundaryOf(ct);
      return b === null || (b.length >= 1 && b.length <= 70);
    }),
    1000,
  );
  const boundary = fc.stringMatching(/^[A-Za-z0-9'()+_,.\/:=?-]{1,40}$/);
  const chunking = fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 });
  function chunks(body: Buffer, sizes: number[]): Buffer[] {
    const out: Buffer[] = [];
    for (let i = 0, k = 0; i < body.length; k++) {
      const n = sizes[k % sizes.length]!;
      out.push(body.subarray(i, i + n));
      i += n;
    }
    return out;
  }
  async function* source(parts: Buffer[]) {
    for (const p of parts) yield p;
  }
  const limits = { maxHeaderBytes: 8192, maxParts: 50 };
  await checkAsync(t, 'garbage bodies',
    fc.asyncProperty(boundary, fc.oneof(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), trickyString(20).map((s) => Buffer.from(s))), chunking, async (b, body, sizes) => {
      try {
        await parseMultipart(source(chunks(Buffer.concat([Buffer.from(`--${b}\r\n`), body]), sizes)), b, () => ({ write() {}, end() {} }), limits);
        return true;
      } catch (e) {
        return e instanceof MultipartError;
      }
    }),
    1000,
  );
  const field = fc.record({
    name: fc.stringMatching(/^[a-z_:]{1,10}$/),
    filename: fc.option(fc.stringMatching(/^[a-z0-9._-]{1,12}$/), { nil: null }),
    value: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  });
  await checkAsync(t, 'forms round-trip',
    fc.asyncProperty(boundary, fc.array(field, { minLength: 1, maxLength: 5 }), chunking, async (b, fields, sizes) => {
      const delim = Buffer.from(`\r\n--${b}`);
      if (fields.some((f) => f.value.includes(delim) || Buffer.concat([Buffer.from('\r\n'), f.value]).includes(delim))) return true;
      const body = Buffer.concat([
        ...fields.map((f, i) =>
          Buffer.concat([
            Buffer.from(`${i === 0 ? '' : '\r\n'}--${b}\r\nContent-Disposition: form-data; name="${f.name}"${f.filename ? `; filename="${f.filename}"` : ''}\r\n\r\n`),
            f.value,
          ]),
        ),
        Buffer.from(`\r\n--${b}--\r\n`),
      ]);
      const got: { name: string; filename: string | null; value: Buffer }[] = [];
      await parseMultipart(source(chunks(body, sizes)), b, (info) => {
        const parts: Buffer[] = [];
        return {
          write: (c: Buffer) => void parts.push(Buffer.from(c)),
          end: () => void got.push({ name: info.name, filename: info.filename, value: Buffer.concat(parts) }),
        };
      }, limits);
      return got.length === fields.length && got.every((g, i) => g.name === fields[i]!.name && g.filename === fields[i]!.filename && g.value.equals(fields[i]!.value));
    }),
    1000,
  );
  t.comment(`fuzz-packages iterations: ${iterations()}`);
});
