// The store snapshot the hostile suites rest on (helpers/store-snapshot.ts),
// proven able to fail on every storage mode: a same-size overwrite, a removal,
// a torn blob and a token file change all show; upload sessions and open
// writers stay out of it and are counted apart.
import t from 'tap';
import { digestOf, parseDigest } from '../src/main/digest.js';
import { blobKey } from '../src/main/storage/blobs.js';
import { startRegistry } from './helpers/registry.js';
import { diffSnapshots, tornObjects } from './helpers/store-snapshot.js';
import { startOn, storageMode } from './helpers/storage-modes.js';

for (const mode of [await storageMode('local'), await storageMode('s3')]) {
  t.test(`${mode.name} storage`, { skip: mode.skip }, async (t) => {
    const { store } = await startOn(t, mode, 'snapshot', (storage) => startRegistry({ storage }));
    const d = store.content;
    const bytes = Buffer.from('blob bytes of the snapshot test');
    const blob = blobKey(parseDigest(digestOf(bytes))!);
    await d.put(blob, bytes);
    await d.put('npm/pkg/package.json', '{"a":1}');
    const before = await store.snapshot();
    t.same(tornObjects(before), [], 'a clean store');
    t.ok(before.has(blob) && before.has('npm/pkg/package.json'), 'every object is in it');

    await d.put('npm/pkg/package.json', '{"a":2}');
    t.same(diffSnapshots(before, await store.snapshot()), [`changed npm/pkg/package.json: 7 ${digestOf(Buffer.from('{"a":1}')).slice(7)} -> 7 ${digestOf(Buffer.from('{"a":2}')).slice(7)}`], 'a same-size overwrite');
    await d.delete('npm/pkg/package.json');
    t.same(diffSnapshots(before, await store.snapshot()), ['removed npm/pkg/package.json'], 'a removal');

    const other = blobKey(parseDigest(digestOf(Buffer.from('other')))!);
    await d.put(other, 'not the bytes its name says');
    t.match(tornObjects(await store.snapshot()), [new RegExp(`^${other}: torn: blob holds sha256:`)], 'a blob whose bytes are not its digest is torn');
    await d.delete(other);

    await d.put('_uploads/0/session.json', '{}');
    const w = await d.writer('upload');
    await new Promise<void>((resolve, reject) => w.append().on('error', reject).end(Buffer.from('half a blob'), resolve));
    t.same(diffSnapshots(before, await store.snapshot()), ['removed npm/pkg/package.json'], 'upload sessions and writers are scratch');
    t.same(await store.keys('_uploads'), [{ key: '_uploads/0/session.json', size: 2 }], 'sessions are listed apart');
    t.equal(await store.writers(), 1, 'the open writer is counted');
    await w.cancel();
    t.equal(await store.writers(), 0, 'and gone once cancelled');

    await store.tokens.put('abc.json', '{"role":"read"}');
    t.same(diffSnapshots(before, await store.snapshot({ fresh: true })), ['removed npm/pkg/package.json', 'added [tokens] abc.json'], 'token files are in it');
  });
}
