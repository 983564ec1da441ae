// Building blocks of the PyPI upload path checked against references: BLAKE2b
// against Python's hashlib, the streaming multipart parser under every way a
// body can be split into chunks, PEP 503 names and file-name rules.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Blake2b } from '../src/protocols/pypi/blake2b.js';
import { boundaryOf, parseMultipart, type PartInfo } from '../src/protocols/pypi/multipart.js';
import { belongsTo, filenameProblem, normalize } from '../src/protocols/pypi/normalize.js';
import { python } from './helpers/pypi-tools.js';

t.test('BLAKE2b-256 matches hashlib.blake2b(digest_size=32)', async (t) => {
  for (const n of [0, 1, 63, 64, 127, 128, 129, 255, 256, 257, 1000, 200_001]) {
    const data = randomBytes(n);
    const want = (await python('import sys,hashlib;print(hashlib.blake2b(sys.stdin.buffer.read(),digest_size=32).hexdigest())', [], data)).toString().trim();
    const h = new Blake2b(32);
    // uneven updates exercise the block buffering
    for (let i = 0; i < n; i += 1 + (i % 97)) h.update(data.subarray(i, i + 1 + (i % 97)));
    if (n === 0) h.update(Buffer.alloc(0));
    t.equal(h.digest().toString('hex'), want, `${n} bytes`);
  }
});

function body(boundary: string, parts: { name: string; filename?: string; data: Buffer }[], preamble = ''): Buffer {
  const out: Buffer[] = [Buffer.from(preamble)];
  for (const p of parts) {
    const fn = p.filename !== undefined ? `; filename="${p.filename}"` : '';
    out.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${fn}\r\n\r\n`), p.data, Buffer.from('\r\n'));
  }
  out.push(Buffer.from(`--${boundary}--\r\nepilogue ignored`));
  return Buffer.concat(out);
}

async function parse(buf: Buffer, boundary: string, split: (i: number) => number) {
  const chunks: Buffer[] = [];
  for (let i = 0, k = 0; i < buf.length; k++) {
    const n = Math.max(1, split(k));
    chunks.push(buf.subarray(i, i + n));
    i += n;
  }
  const got: { info: PartInfo; data: Buffer }[] = [];
  await parseMultipart(
    (async function* () {
      for (const c of chunks) yield c;
    })(),
    boundary,
    (info) => {
      const parts: Buffer[] = [];
      return {
        write: async (c: Buffer) => {
          parts.push(Buffer.from(c));
          await new Promise((r) => setImmediate(r)); // a slow sink
        },
        end: () => void got.push({ info, data: Buffer.concat(parts) }),
      };
    },
    { maxHeaderBytes: 4096, maxParts: 100 },
  );
  return got;
}

t.test('multipart parser: any chunking gives the same parts', async (t) => {
  const boundary = 'xYz-0123456789';
  // A file full of near-boundaries, CRLFs and dashes.
  const tricky = Buffer.concat([
    Buffer.from(`\r\n--xYz-012345678\r\nA--xYz-0123456789X\r`),
    randomBytes(3000),
    Buffer.from('\r\n-\r\n--\r\n--xYz'),
  ]);
  const parts = [
    { name: ':action', data: Buffer.from('file_upload') },
    { name: 'name', data: Buffer.from('démo') },
    { name: 'empty', data: Buffer.alloc(0) },
    { name: 'content', filename: 'demo-1.0.tar.gz', data: tricky },
    { name: 'after', data: Buffer.from('last') },
  ];
  const buf = body(boundary, parts, 'preamble text\r\n');
  const splits: [string, (k: number) => number][] = [
    ['whole', () => buf.length],
    ['1 byte', () => 1],
    ['7 bytes', () => 7],
    ['delimiter-sized', () => boundary.length + 4],
    ['random', () => 1 + Math.floor(Math.random() * 200)],
  ];
  for (const [label, split] of splits) {
    const got = await parse(buf, boundary, split);
    t.same(
      got.map((g) => [g.info.name, g.info.filename, g.data.toString('base64')]),
      parts.map((p) => [p.name, p.filename ?? null, p.data.toString('base64')]),
      label,
    );
  }
  t.equal(boundaryOf('multipart/form-data; boundary="quoted b"'), 'quoted b');
  t.equal(boundaryOf('multipart/form-data; charset=utf-8; boundary=abc'), 'abc');
  t.equal(boundaryOf('application/json'), null);
  t.equal(boundaryOf('multipart/form-data'), null);
});

t.test('multipart parser: malformed bodies are errors', async (t) => {
  const b = 'bnd';
  const good = body(b, [{ name: 'a', data: Buffer.from('1') }]);
  await t.rejects(parse(good.subarray(0, good.length - 25), b, () => 5), { name: 'MultipartError', message: /ended before its closing boundary/ }, 'truncated');
  await t.rejects(parse(Buffer.from(`--${b}\r\nX-Other: 1\r\n\r\nv\r\n--${b}--\r\n`), b, () => 9), /Content-Disposition/);
  await t.rejects(parse(Buffer.from(`--${b}\r\nContent-Disposition: form-data\r\n\r\nv\r\n--${b}--\r\n`), b, () => 9), /no name/);
  await t.rejects(parse(Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="a"${'x'.repeat(5000)}\r\n\r\nv\r\n--${b}--\r\n`), b, () => 100), /too large/);
  await t.rejects(parse(Buffer.from('no boundary anywhere'.repeat(4000)), b, () => 1000), /no multipart boundary/);
});

t.test('names and file names', async (t) => {
  t.equal(normalize('Friendly-Bard'), 'friendly-bard');
  t.equal(normalize('FRIENDLY_BARD'), 'friendly-bard');
  t.equal(normalize('friendly.._-bard'), 'friendly-bard');
  t.ok(belongsTo('Tiny_Demo-0.1.0-py3-none-any.whl', 'tiny-demo', '0.1.0'));
  t.ok(belongsTo('tiny_demo-0.1.0-1-py3-none-any.whl', 'tiny-demo', '0.1.0'), 'build tag');
  t.ok(belongsTo('Tiny-Demo-0.1.0.tar.gz', 'tiny-demo', '0.1.0'));
  t.notOk(belongsTo('tiny-demo-extra-0.1.0.tar.gz', 'tiny-demo', '0.1.0'));
  t.notOk(belongsTo('tiny_demo-0.2.0-py3-none-any.whl', 'tiny-demo', '0.1.0'));
  t.notOk(belongsTo('tiny_demo-0.1.0.whl', 'tiny-demo', '0.1.0'));
  for (const bad of ['', '../x-1.tar.gz', 'a/b-1.tar.gz', 'a\\b-1.tar.gz', 'x\0-1.tar.gz', 'x-1..tar.gz', 'x y-1.tar.gz', 'x-1.rpm', 'x-1.tar.gz#frag']) {
    t.ok(filenameProblem(bad), JSON.stringify(bad));
  }
  t.equal(filenameProblem('x-1.0+local.tar.gz'), null);
});
