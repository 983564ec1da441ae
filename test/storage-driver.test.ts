// One conformance suite for every storage driver (local disk, memory, and S3
// on the shared Ceph RADOS Gateway when .ci/services/ceph.sh has started it):
// the same cases, the same expectations. Then a few local-only checks of crash
// safety (what a crash leaves on disk and what the start-up sweep makes of it).
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent as HttpAgent, createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { InvalidKey } from '../src/main/storage/keys.js';
import { ObjectReplaced, WriterGone, type ObjectReader, type StorageDriver } from '../src/main/storage/driver.js';
import { LocalDriver } from '../src/main/storage/drivers/local.js';
import { MemoryDriver } from '../src/main/storage/drivers/memory.js';
import { RangedReader } from '../src/main/storage/ranged-reader.js';
import { S3Driver } from '../src/main/storage/drivers/s3.js';
import { tempDir } from './helpers/registry.js';
import { CEPH_ABSENT, cephS3, freshBucket } from './helpers/ceph.js';

const MiB = 1024 * 1024;
// A real collection before measuring, so earlier cases' garbage does not hide growth.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

interface Subject {
  name: string;
  open(t: Test): Promise<StorageDriver>;
}

const subjects: Subject[] = [
  {
    name: 'local',
    async open(t) {
      const dir = await tempDir('nora-driver-');
      t.teardown(() => rm(dir, { recursive: true, force: true }));
      const d = new LocalDriver(join(dir, 'store'));
      await d.init();
      return d;
    },
  },
  { name: 'memory', open: async () => new MemoryDriver() },
];
const ceph = await cephS3();
if (ceph) {
  subjects.push({
    name: 's3',
    async open(t) {
      const bucket = await freshBucket(t, ceph, 'driver');
      const d = new S3Driver({ url: ceph.url, bucket, accessKey: ceph.accessKey, secretKey: ceph.secretKey, region: ceph.region, virtualHosted: false });
      await d.init();
      t.teardown(() => d.close());
      return d;
    },
  });
} else {
  t.test('s3: conformance', { skip: CEPH_ABSENT }, async () => {});
}

/** Reads [position, position + length) through a reader, looping over short reads. */
async function readRange(r: ObjectReader, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await r.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

async function readAll(d: StorageDriver, key: string): Promise<Buffer | null> {
  const r = await d.reader(key);
  if (!r) return null;
  try {
    return await readRange(r, 0, r.size);
  } finally {
    await r.close();
  }
}

async function writeObject(d: StorageDriver, key: string, chunks: Buffer[]): Promise<void> {
  const w = await d.writer('test');
  await pipeline(Readable.from(chunks), w.append());
  await w.commit(key);
}

/** Rejects with an instance of `cls` (tap compares classes by shape, not instanceof). */
async function rejectsWith(t: Test, p: Promise<unknown>, cls: new (...a: never[]) => Error, msg?: string): Promise<void> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  t.ok(e instanceof cls, msg ?? `rejects with ${cls.name}`, { got: String(e) });
}

const pattern = (size: number, seed: number) => {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
};

for (const s of subjects) {
  t.test(`${s.name}: small objects, versions, stat`, async (t) => {
    const d = await s.open(t);
    t.equal(await d.stat('a/b'), null);
    t.equal(await d.get('a/b'), null);
    t.equal(await d.reader('a/b'), null);
    const v1 = await d.put('a/b', 'one');
    t.type(v1, 'string');
    const st = await d.stat('a/b');
    t.match(st, { size: 3, version: v1 });
    t.ok(Math.abs(st!.modifiedMs - Date.now()) < 60_000, 'modifiedMs is a wall-clock time');
    t.same(await d.get('a/b'), { data: Buffer.from('one'), version: v1 });
    const v2 = await d.put('a/b', Buffer.from('two!'));
    t.not(v2, v1, 'a write makes a new version');
    t.equal((await d.get('a/b'))!.data.toString(), 'two!');
    t.equal(await d.stat('a'), null, 'a prefix is not an object');
    t.equal(await d.get('a'), null);
    t.ok(await d.probe());
  });

  t.test(`${s.name}: presignGet hands out a URL for exactly that object, or null`, async (t) => {
    const d = await s.open(t);
    const body = pattern(200_000, 5);
    await writeObject(d, 'blobs/a+b@c/obj', [body]);
    const url = await d.presignGet('blobs/a+b@c/obj', 60);
    if (s.name !== 's3') {
      t.equal(url, null, 'bytes on this driver only flow through the registry');
      return;
    }
    t.match(url, /X-Amz-Signature=[0-9a-f]{64}/);
    t.match(url, /X-Amz-Expires=60&|X-Amz-Expires=60$/);
    t.notMatch(url, new RegExp(ceph!.secretKey), 'the secret never leaves');
    const whole = await fetch(url!);
    t.equal(whole.status, 200);
    t.equal(whole.headers.get('content-type'), 'application/octet-stream');
    t.same(Buffer.from(await whole.arrayBuffer()), body, 'a key with + and @, escaped once');
    const part = await fetch(url!, { headers: { range: 'bytes=1000-1999' } });
    t.equal(part.status, 206, 'the store honours Range');
    t.same(Buffer.from(await part.arrayBuffer()), body.subarray(1000, 2000));
    const elsewhere = url!.replace('/obj?', '/other?');
    await d.put('blobs/a+b@c/other', 'not yours');
    t.equal((await fetch(elsewhere)).status, 403, 'the signature covers that key only');
    t.equal((await fetch(url!, { method: 'PUT', body: 'overwrite' })).status, 403, 'and only GET');
    t.same(await readAll(d, 'blobs/a+b@c/obj'), body);
  });

  t.test(`${s.name}: keys are checked before anything is touched`, async (t) => {
    const d = await s.open(t);
    for (const bad of ['', '/abs', 'a/../b', 'a//b', './a', 'a\\b', 'nul\0', 'é', 'x'.repeat(1025)]) {
      await rejectsWith(t, d.put(bad, 'x'), InvalidKey, `put ${JSON.stringify(bad.slice(0, 20))}`);
      await rejectsWith(t, d.stat(bad), InvalidKey);
      await rejectsWith(t, d.get(bad), InvalidKey);
      await rejectsWith(t, d.delete(bad), InvalidKey);
      await rejectsWith(t, d.copy('ok', bad), InvalidKey);
    }
    t.same((await d.list('')).names, [], 'nothing was written');
  });

  t.test(`${s.name}: create-if-absent races: exactly one wins`, async (t) => {
    const d = await s.open(t);
    for (let round = 0; round < 5; round++) {
      const key = `locks/l${round}`;
      const results = await Promise.all(Array.from({ length: 16 }, (_, i) => d.put(key, `writer ${i}`, { ifAbsent: true })));
      const winners = results.map((v, i) => [v, i] as const).filter(([v]) => v !== null);
      t.equal(winners.length, 1, `round ${round}: one winner`);
      t.equal((await d.get(key))!.data.toString(), `writer ${winners[0]![1]}`, 'and its content is stored');
      t.equal((await d.get(key))!.version, winners[0]![0]);
    }
    t.equal(await d.put('locks/l0', 'late', { ifAbsent: true }), null, 'an existing key is never replaced');
  });

  t.test(`${s.name}: compare-and-swap races lose no update`, async (t) => {
    const d = await s.open(t);
    const v0 = (await d.put('doc', '0'))!;
    const once = await Promise.all(Array.from({ length: 16 }, (_, i) => d.put('doc', `w${i}`, { ifMatch: v0 })));
    t.equal(once.filter((v) => v !== null).length, 1, 'one writer of a version wins');
    t.equal(await d.put('doc', 'stale', { ifMatch: v0 }), null, 'a stale version is refused');
    t.equal(await d.put('nothing-here', 'x', { ifMatch: v0 }), null, 'ifMatch on an absent key is refused');
    await d.put('counter', '0');
    let conflicts = 0;
    const worker = async () => {
      for (let i = 0; i < 10; i++) {
        for (;;) {
          const cur = (await d.get('counter'))!;
          if ((await d.put('counter', String(Number(cur.data.toString()) + 1), { ifMatch: cur.version })) !== null) break;
          conflicts++;
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    t.equal((await d.get('counter'))!.data.toString(), '80', `80 increments by 8 writers all land (${conflicts} retries)`);
  });

  t.test(`${s.name}: a writer is invisible until commit; concurrent writers of one key never mix`, async (t) => {
    const d = await s.open(t);
    const w = await d.writer('upload');
    await pipeline(Readable.from([Buffer.from('hello '), Buffer.from('world')]), w.append());
    t.equal(w.size, 11);
    t.equal(await d.stat('obj'), null, 'not visible before commit');
    t.same((await d.list('')).names, [], 'not listed before commit');
    const back = await w.reader();
    t.equal((await readRange(back, 6, 5)).toString(), 'world', 'the writer reads back what it wrote');
    await back.close();
    await w.commit('obj');
    t.equal((await readAll(d, 'obj'))!.toString(), 'hello world');

    const size = 3 * MiB + 17;
    const contents = Array.from({ length: 6 }, (_, i) => pattern(size, i));
    await Promise.all(
      contents.map(async (c) => {
        const w = await d.writer('race');
        // in several appends, as an upload session's chunks arrive
        for (let off = 0; off < c.length; off += MiB) await pipeline(Readable.from([c.subarray(off, off + MiB)]), w.append());
        await w.commit('same/key');
      }),
    );
    const final = (await readAll(d, 'same/key'))!;
    t.ok(contents.some((c) => c.equals(final)), 'the result is exactly one writer\'s bytes');
    t.equal(await d.sweep(0), 0, 'committed writers leave nothing to sweep');
  });

  t.test(`${s.name}: tail() reads a writer while it grows, and after commit`, async (t) => {
    const d = await s.open(t);
    const w = await d.writer('proxy');
    if (!w.tail) {
      t.pass('driver has no tail(): fills wait for completion');
      return w.cancel();
    }
    const tail = await w.tail();
    const data = pattern(3 * MiB + 5, 7);
    const out = w.append();
    let readBack = 0;
    for (let off = 0; off < data.length; off += 700_000) {
      const chunk = data.subarray(off, off + 700_000);
      await new Promise<void>((res, rej) => out.write(chunk, (e) => (e ? rej(e) : res())));
      // every byte whose write callback fired is readable, while the append stays open
      const got = await readRange(tail, readBack, off + chunk.length - readBack);
      t.ok(got.equals(data.subarray(readBack, off + chunk.length)), `bytes up to ${off + chunk.length} read back mid-append`);
      readBack = off + chunk.length;
    }
    await new Promise<void>((res) => out.end(res));
    await w.commit('tailed');
    t.ok((await readRange(tail, 0, data.length)).equals(data), 'the tail still reads after commit');
    await tail.close();
  });

  t.test(`${s.name}: cancel mid-write, truncate, and a swept writer`, async (t) => {
    const d = await s.open(t);
    const w = await d.writer('upload');
    await pipeline(Readable.from([Buffer.from('keep')]), w.append());
    // A chunk that fails half way: the body errors after some bytes landed.
    const failing = Readable.from(
      (async function* () {
        yield Buffer.from('partial-');
        throw new Error('client went away');
      })(),
    );
    await t.rejects(pipeline(failing, w.append()), /client went away/);
    await w.truncate(4);
    t.equal(w.size, 4);
    await pipeline(Readable.from([Buffer.from('+more')]), w.append());
    const r = await w.reader();
    t.equal((await readRange(r, 0, r.size)).toString(), 'keep+more', 'the rolled-back bytes are gone');
    await r.close();
    await w.cancel();
    await rejectsWith(t, w.commit('never'), WriterGone, 'a cancelled writer cannot commit');
    t.equal(await d.stat('never'), null);
    t.equal(await d.sweep(0), 0, 'cancel leaves nothing behind');

    const abandoned = await d.writer('upload');
    await pipeline(Readable.from([Buffer.from('x')]), abandoned.append());
    t.equal(await d.sweep(60_000), 0, 'a young writer survives a sweep');
    t.equal(await d.sweep(0, { dryRun: true }), 1, 'a dry run counts it');
    t.equal(await d.sweep(0), 1, 'the start-up sweep removes it');
    await rejectsWith(t, pipeline(Readable.from([Buffer.from('y')]), abandoned.append()), WriterGone, 'appending to a swept writer fails');
    await rejectsWith(t, abandoned.commit('k'), WriterGone);
    await rejectsWith(t, abandoned.reader(), WriterGone);

    const kept = await d.writer('upload');
    await new Promise((r) => setTimeout(r, 30));
    await kept.touch();
    t.equal(await d.sweep(20), 0, 'touch keeps an idle writer');
    await kept.cancel();
  });

  t.test(`${s.name}: a failed append across part-sized boundaries rolls back; appends after reader() continue the object`, async (t) => {
    const d = await s.open(t);
    const data = pattern(14 * MiB + 5, 11);
    const w = await d.writer('upload');
    await pipeline(Readable.from([data.subarray(0, 3 * MiB)]), w.append());
    // 9 MiB arrive (an S3 writer uploads a part meanwhile), then the client goes away.
    const failing = Readable.from(
      (async function* () {
        for (let i = 0; i < 9; i++) yield pattern(MiB, 99);
        throw new Error('client went away');
      })(),
    );
    await t.rejects(pipeline(failing, w.append()), /client went away/);
    await w.truncate(3 * MiB);
    t.equal(w.size, 3 * MiB);
    await pipeline(Readable.from([data.subarray(3 * MiB, 4 * MiB)]), w.append());
    const small = await w.reader();
    t.same(await readRange(small, 0, small.size), data.subarray(0, 4 * MiB), 'the failed bytes are gone');
    await small.close();
    await pipeline(Readable.from([data.subarray(4 * MiB, 9 * MiB)]), w.append());
    const big = await w.reader();
    t.equal(big.size, 9 * MiB);
    await big.close();
    await pipeline(Readable.from([data.subarray(9 * MiB)]), w.append());
    await w.commit('rolled/back');
    t.ok((await readAll(d, 'rolled/back'))!.equals(data), 'the object is exactly the accepted bytes, in order');
    t.equal(await d.sweep(0), 0, 'nothing left behind');
  });

  t.test(`${s.name}: ranged reads at and past the end, in any order`, async (t) => {
    const d = await s.open(t);
    const data = pattern(1 * MiB + 333, 3);
    await writeObject(d, 'r/obj', [data.subarray(0, 100_000), data.subarray(100_000)]);
    const r = (await d.reader('r/obj'))!;
    t.equal(r.size, data.length);
    t.same(await readRange(r, 0, 10), data.subarray(0, 10));
    t.same(await readRange(r, 500_000, 300_000), data.subarray(500_000, 800_000), 'a range in the middle');
    t.same(await readRange(r, 100, 50), data.subarray(100, 150), 'a jump back');
    t.same(await readRange(r, data.length - 5, 100), data.subarray(data.length - 5), 'a read over the end stops at it');
    const buf = Buffer.alloc(16);
    t.equal((await r.read(buf, 0, 16, data.length)).bytesRead, 0, 'at the end: nothing');
    t.equal((await r.read(buf, 0, 16, data.length + 1000)).bytesRead, 0, 'past the end: nothing');
    // The download loop: 256 KiB reads, each stepping back over what the socket refused.
    const out = Buffer.alloc(data.length);
    let sent = 0;
    const chunk = Buffer.alloc(256 * 1024);
    while (sent < data.length) {
      const { bytesRead } = await r.read(chunk, 0, Math.min(chunk.length, data.length - sent), sent);
      const accepted = Math.max(1, Math.floor(bytesRead * 0.6));
      chunk.copy(out, sent, 0, accepted);
      sent += accepted;
    }
    t.same(out, data, 'a download with backpressure re-reads reads the right bytes');
    // a reader keeps reading the version it opened, or (S3 keeps no old versions) refuses
    await d.put('r/obj', 'replaced');
    if (s.name === 's3') await rejectsWith(t, readRange(r, 0, 10), ObjectReplaced, 'a replaced object fails an open reader rather than mixing versions');
    else t.same(await readRange(r, 0, 10), data.subarray(0, 10), 'a replaced object does not change an open reader');
    await r.close();
    const empty = await d.put('r/empty', '');
    t.type(empty, 'string');
    const er = (await d.reader('r/empty'))!;
    t.equal(er.size, 0);
    t.equal((await er.read(buf, 0, 16, 0)).bytesRead, 0);
    await er.close();
  });

  t.test(`${s.name}: list by prefix with after/limit, walk, delete, delete-prefix`, async (t) => {
    const d = await s.open(t);
    const names = Array.from({ length: 25 }, (_, i) => `n${String(i).padStart(2, '0')}`);
    for (const n of names) await d.put(`l/${n}`, n);
    await d.put('l/sub/deep/x', 'x');
    await d.put('l/sub/y', 'y');
    await d.put('other', 'o');
    const all = [...names, 'sub'];
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await d.list('l', { after, limit: 7 });
      pages++;
      seen.push(...page.names);
      if (!page.more) break;
      after = page.names[page.names.length - 1];
    }
    t.same(seen, all, 'pages of 7 list every name once, in order');
    t.equal(pages, 4);
    t.same((await d.list('l', { limit: 26 })).more, false, 'a page holding the rest says no more');
    t.same((await d.list('l', { after: 'n23' })).names, ['n24', 'sub']);
    t.same((await d.list('l', { prefixesOnly: true })).names, ['sub']);
    t.same((await d.list('l/sub')).names, ['deep', 'y']);
    t.same((await d.list('nothing')).names, []);
    t.same((await d.list('')).names, ['l', 'other'], 'the root lists top-level names');

    const walked: string[] = [];
    for await (const o of d.walk('l/sub')) walked.push(`${o.key}:${o.size}`);
    t.same(walked, ['l/sub/deep/x:1', 'l/sub/y:1'], 'walk yields every object below, in key order');
    const keys: string[] = [];
    for await (const o of d.walk('')) keys.push(o.key);
    t.same(keys, [...keys].sort(), 'the whole store walks in key order');
    t.equal(keys.length, 28);

    t.equal(await d.delete('l/n00'), true);
    t.equal(await d.delete('l/n00'), false, 'deleting twice: false');
    const v = (await d.stat('l/n01'))!.version;
    await new Promise((r) => setTimeout(r, 5));
    t.ok(await d.touch('l/n01'));
    const touched = (await d.stat('l/n01'))!;
    t.not(touched.version, v, 'touch makes a new version');
    t.equal(await d.delete('l/n01', { ifMatch: v }), false, 'a conditional delete of a touched object fails');
    t.ok(await d.stat('l/n01'), 'and leaves it');
    t.equal(await d.delete('l/n01', { ifMatch: touched.version }), true);
    t.equal(await d.touch('l/n01'), false, 'touching an absent object: false');
    await d.deletePrefix('l/sub');
    t.same((await d.list('l', { prefixesOnly: true })).names, []);
    t.equal(await d.stat('l/sub/y'), null);
    t.ok(await d.stat('l/n02'), 'siblings stay');
  });

  t.test(`${s.name}: pages stay in name order where '-' sorts before '/' (S3 lists "a-b/" before "a/")`, async (t) => {
    const d = await s.open(t);
    for (const k of ['c/foo/x', 'c/foo-bar/x', 'c/foo.baz', 'c/foo-bar.tgz', 'c/fop/y']) await d.put(k, 'x');
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await d.list('c', { after, limit: 1 });
      seen.push(...page.names);
      if (!page.more) break;
      after = page.names[page.names.length - 1];
    }
    t.same(seen, ['foo', 'foo-bar', 'foo-bar.tgz', 'foo.baz', 'fop'], 'pages of one list every name once, in name order');
    t.same((await d.list('c', { prefixesOnly: true, limit: 2 })).names, ['foo', 'foo-bar']);
  });

  t.test(`${s.name}: server-side copy`, async (t) => {
    const d = await s.open(t);
    await d.put('src', 'bytes');
    t.equal(await d.copy('src', 'dir/dst'), true);
    t.equal((await d.get('dir/dst'))!.data.toString(), 'bytes');
    await d.put('dir/dst2', 'old');
    t.equal(await d.copy('src', 'dir/dst2'), true);
    t.equal((await d.get('dir/dst2'))!.data.toString(), 'bytes', 'copy replaces the destination');
    t.equal(await d.copy('missing', 'dir/x'), false);
    t.equal(await d.stat('dir/x'), null);
    await d.put('src', 'new');
    t.equal((await d.get('dir/dst'))!.data.toString(), 'bytes', 'a copy does not follow later writes of its source');
  });

  t.test(`${s.name}: scratch writes keep every guarantee but durability`, async (t) => {
    const d = await s.open(t);
    const scratch = { scratch: true };
    const won = await Promise.all(Array.from({ length: 8 }, (_, i) => d.put('s/doc', `w${i}`, { ifAbsent: true }, scratch)));
    t.equal(won.filter((v) => v !== null).length, 1, 'create-if-absent: one winner');
    const v1 = won.find((v) => v !== null)!;
    const v2 = await d.put('s/doc', 'next', { ifMatch: v1 }, scratch);
    t.type(v2, 'string', 'compare-and-swap on the current version');
    t.equal(await d.put('s/doc', 'stale', { ifMatch: v1 }, scratch), null, 'a stale version is refused');
    t.equal(await d.delete('s/doc', { ifMatch: v1, scratch: true }), false, 'a stale conditional delete is refused');
    t.equal((await d.get('s/doc'))!.data.toString(), 'next');
    const w = await d.writer('upload');
    await pipeline(Readable.from([Buffer.from('part bytes')]), w.append());
    t.equal(await d.stat('s/part'), null, 'a scratch writer is invisible until commit');
    await w.commit('s/part', scratch);
    t.equal(await d.copy('s/part', 'kept/blob'), true);
    t.equal((await d.get('kept/blob'))!.data.toString(), 'part bytes', 'a copy of a scratch object holds its bytes');
    t.equal(await d.delete('s/doc', { ifMatch: v2!, scratch: true }), true);
    t.equal(await d.delete('s/part', scratch), true);
    t.same((await d.list('s')).names, [], 'scratch objects deleted');
    t.equal((await d.get('kept/blob'))!.data.toString(), 'part bytes', 'the copy outlives its source');
  });

  t.test(`${s.name}: a 256 MiB object streams in and out with flat memory`, async (t) => {
    const d = await s.open(t);
    const SIZE = 256 * MiB;
    const CHUNK = 256 * 1024;
    // Chunks come from a pool the writer gives back to (as request-body slots are).
    const pool: Buffer[] = [];
    let allocated = 0;
    const hash = createHash('sha256');
    async function* source() {
      for (let off = 0, i = 0; off < SIZE; off += CHUNK, i++) {
        const b = pool.pop() ?? (allocated++, Buffer.allocUnsafeSlow(CHUNK));
        b.fill(i & 0xff);
        b.writeUInt32LE(i, 0);
        hash.update(b);
        if ((i & 15) === 0) sampleRss();
        yield b;
      }
    }
    collect();
    await new Promise((r) => setTimeout(r, 50));
    collect();
    const before = process.memoryUsage();
    const w = await d.writer('big');
    let peak = 0;
    // sampled from the loops too: a driver that never waits on I/O starves timers
    const sampleRss = () => (peak = Math.max(peak, process.memoryUsage().rss));
    const sample = setInterval(sampleRss, 20);
    try {
      await pipeline(Readable.from(source()), w.append({ release: (b) => pool.push(b) }));
      await w.commit('big/obj');
      const r = (await d.reader('big/obj'))!;
      t.equal(r.size, SIZE);
      const back = createHash('sha256');
      const buf = Buffer.allocUnsafe(256 * 1024);
      for (let pos = 0; pos < SIZE; ) {
        const { bytesRead } = await r.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) break;
        back.update(buf.subarray(0, bytesRead));
        pos += bytesRead;
        if ((pos & (4 * MiB - 1)) === 0) sampleRss();
      }
      await r.close();
      t.equal(back.digest('hex'), hash.digest('hex'), 'the bytes read back are the bytes written');
    } finally {
      clearInterval(sample);
    }
    // The memory driver holds the object itself; beyond that, growth must stay small.
    const held = s.name === 'memory' ? SIZE : 0;
    const growth = peak - before.rss - held;
    t.ok(growth < 96 * MiB, `peak RSS growth beyond the stored bytes ${(growth / MiB).toFixed(1)} MiB < 96 MiB`);
    t.ok(allocated <= 16, `${allocated} chunk buffers allocated for ${SIZE / CHUNK} chunks: the writer gives them back`);
    await d.delete('big/obj');
  });
}

t.test('RangedReader: a download opens one range, a jump opens another', async (t) => {
  const data = pattern(2 * MiB, 9);
  const opens: number[] = [];
  const r = new RangedReader(data.length, 'v1', (start) => {
    opens.push(start);
    return Readable.from((function* () {
      for (let p = start; p < data.length; p += 16 * 1024) yield data.subarray(p, Math.min(p + 16 * 1024, data.length));
    })());
  });
  const buf = Buffer.alloc(256 * 1024);
  let sent = 0;
  while (sent < data.length) {
    const { bytesRead } = await r.read(buf, 0, buf.length, sent);
    t.ok(buf.subarray(0, bytesRead).equals(data.subarray(sent, sent + bytesRead)));
    sent += Math.floor(bytesRead / 2) || bytesRead; // the socket took half
  }
  t.same(opens, [0], 'sequential reads with step-backs share one ranged stream');
  await readRange(r, 100, 10);
  t.same(opens, [0, 100], 'a jump back before the held bytes opens a new range');
  await r.close();
});

t.test('RangedReader: a download read to its end leaves its keep-alive connection to the next', async (t) => {
  const data = pattern(MiB, 5);
  let connections = 0;
  const server = createServer((req, res) => {
    const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
    res.writeHead(206, { 'Content-Length': data.length - start });
    res.end(data.subarray(start));
  });
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => {
    agent.destroy();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  const open = (start: number) =>
    new Promise<Readable>((resolve, reject) => get({ host: '127.0.0.1', port, agent, headers: { range: `bytes=${start}-` } }, resolve).on('error', reject));
  for (let i = 0; i < 3; i++) {
    const r = new RangedReader(data.length, 'v1', open);
    t.ok((await readRange(r, 0, data.length)).equals(data));
    await r.close();
  }
  t.equal(connections, 1, 'three whole downloads share one connection');
  const cut = new RangedReader(data.length, 'v1', open);
  await readRange(cut, 0, 1000);
  await cut.close();
  const r = new RangedReader(data.length, 'v1', open);
  t.ok((await readRange(r, 10, 100)).equals(data.subarray(10, 110)), 'the next reader gets its bytes');
  await r.close();
  t.equal(connections, 2, 'a download cut short closes its connection (the rest of its body is never read)');
});

t.test('local: crash leftovers are swept, interrupted deletes put back', async (t) => {
  const dir = await tempDir('nora-driver-crash-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'store');
  const d = new LocalDriver(root);
  await d.init();
  // A writer that a crash interrupted, and one mid-put.
  const w = await d.writer('upload');
  await pipeline(Readable.from([Buffer.from('half')]), w.append());
  await writeFile(join(root, 'tmp', 'w-123-abc'), 'torn');
  // A conditional delete interrupted after its move aside.
  await d.put('blobs/sha256/ab/abcd', 'blob');
  await rename(join(root, 'blobs/sha256/ab/abcd'), join(root, 'tmp', `del-0123-${Buffer.from('blobs/sha256/ab/abcd').toString('base64url')}`));
  const restarted = new LocalDriver(root);
  await restarted.init();
  t.equal(await restarted.sweep(0), 2, 'both temp files removed at start-up');
  t.same(await readdir(join(root, 'tmp')), [], 'tmp/ is empty');
  t.equal((await restarted.get('blobs/sha256/ab/abcd'))!.data.toString(), 'blob', 'the half-deleted object is back');
  t.same((await restarted.list('')).names, ['blobs'], 'tmp/ is never listed');
});

t.test('local: scratch writes make no fsync; a copy fsyncs its scratch source before linking it', async (t) => {
  const dir = await tempDir('nora-driver-fsync-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const d = new LocalDriver(join(dir, 'store'));
  await d.init();
  // Every fsync of this process, by inode (FileHandle.sync is what the driver calls).
  const { open, stat } = await import('node:fs/promises');
  const probe = await open(join(dir, 'store'), 'r');
  const proto = Object.getPrototypeOf(probe) as { sync: (this: { stat(): Promise<{ ino: number }> }) => Promise<void> };
  await probe.close();
  const sync = proto.sync;
  let synced: number[] = [];
  proto.sync = async function () {
    synced.push((await this.stat()).ino);
    return sync.call(this);
  };
  t.teardown(() => {
    proto.sync = sync;
  });
  const ino = async (key: string) => (await stat(d.path(key))).ino;
  const scratch = { scratch: true };

  const v = (await d.put('_uploads/u/session.json', '{}', { ifAbsent: true }, scratch))!;
  await d.put('_uploads/u/session.json', '{"a":1}', { ifMatch: v }, scratch);
  const w = await d.writer('upload');
  await pipeline(Readable.from([Buffer.from('scratch part')]), w.append());
  await w.commit('_uploads/u/0', scratch);
  const cur = (await d.stat('_uploads/u/session.json'))!;
  t.equal(await d.delete('_uploads/u/session.json', { ifMatch: cur.version, scratch: true }), true);
  t.same(synced, [], 'scratch create, replace, commit and conditional delete: no fsync');

  const part = await ino('_uploads/u/0');
  t.equal(await d.copy('_uploads/u/0', 'blobs/sha256/ab/abcd'), true);
  t.ok(synced.includes(part), 'the copy fsynced the scratch source');
  t.ok(synced.includes(await ino('blobs/sha256/ab')), 'and the directory it was linked into');

  synced = [];
  await d.put('docs/durable', 'x');
  t.ok(synced.includes(await ino('docs/durable')) && synced.includes(await ino('docs')), 'a durable put fsyncs the file and its directory');
});

t.test('local private store: 0600 files in a 0700 directory, temp files beside them', async (t) => {
  const dir = await tempDir('nora-driver-private-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'tokens');
  const d = new LocalDriver(root, { private: true });
  await d.init();
  const { stat } = await import('node:fs/promises');
  t.equal((await stat(root)).mode & 0o777, 0o700);
  await d.put('a.json', '{}');
  t.equal((await stat(join(root, 'a.json'))).mode & 0o777, 0o600);
  t.same(await readdir(root), ['a.json'], 'nothing but the object');
  await writeFile(join(root, '.a.json.0123.tmp'), 'torn');
  await mkdir(join(root, 'sub'));
  t.same((await d.list('')).names, ['a.json', 'sub'], 'temp files are not listed');
  t.equal(await d.sweep(0), 1, 'a crash\'s temp file is swept');
  t.same((await readdir(root)).sort(), ['a.json', 'sub']);
});
