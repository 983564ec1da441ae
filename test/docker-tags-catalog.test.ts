// Tag listing and the catalog, with n/last pagination and Link headers.
import t from 'tap';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { startRegistry, type Running } from './helpers/registry.js';
import { OCI_MANIFEST, errorCode, pushBlob, pushImage, putManifest } from './helpers/oci-push.js';
import { tagKey } from '../src/protocols/docker/layout.js';

/** The target of a `Link: <...>; rel="next"` header, or null. */
function nextLink(res: Response): string | null {
  const link = res.headers.get('link');
  if (!link) return null;
  const m = /^<([^>]+)>;\s*rel="next"$/.exec(link);
  if (!m) throw new Error(`malformed Link header: ${link}`);
  return m[1]!;
}

/** Follows Link headers from `path`, collecting `key` from every page. */
async function collectPages(r: Running, path: string, key: 'tags' | 'repositories'): Promise<{ items: string[]; pages: number }> {
  const items: string[] = [];
  let pages = 0;
  let next: string | null = path;
  while (next) {
    const res = await fetch(r.url + next);
    if (res.status !== 200) throw new Error(`${next}: ${res.status}`);
    items.push(...((await res.json()) as Record<string, string[]>)[key]!);
    pages++;
    next = nextLink(res);
    if (pages > 5000) throw new Error('pagination does not end');
  }
  return { items, pages };
}

t.test('tags/list', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const m = await pushImage(r, 'team/app', 'v1.0');
  for (const tag of ['latest', 'B', 'a', 'v2', 'v1.10', '_x']) {
    const res = await putManifest(r, 'team/app', tag, m.bytes, OCI_MANIFEST);
    t.equal(res.status, 201);
  }
  // A push by digest adds no tag.
  const byDigest = await pushImage(r, 'team/app', 'tmp');
  let res = await fetch(`${r.url}/v2/team/app/manifests/tmp`, { method: 'DELETE' });
  t.equal(res.status, 202);
  res = await putManifest(r, 'team/app', byDigest.digest, byDigest.bytes, OCI_MANIFEST);
  t.equal(res.status, 201);

  const all = ['B', '_x', 'a', 'latest', 'v1.0', 'v1.10', 'v2'];
  res = await fetch(`${r.url}/v2/team/app/tags/list`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /application\/json/);
  t.equal(res.headers.get('link'), null, 'everything fits: no Link');
  t.same(await res.json(), { name: 'team/app', tags: all }, 'byte order, tags only');

  res = await fetch(`${r.url}/v2/team/app/tags/list?n=2`);
  t.same(((await res.json()) as { tags: string[] }).tags, ['B', '_x']);
  t.equal(res.headers.get('link'), '</v2/team/app/tags/list?n=2&last=_x>; rel="next"');
  const paged = await collectPages(r, '/v2/team/app/tags/list?n=2', 'tags');
  t.same(paged.items, all, 'following Link yields every tag once');
  t.equal(paged.pages, 4);

  res = await fetch(`${r.url}/v2/team/app/tags/list?last=latest`);
  t.same(((await res.json()) as { tags: string[] }).tags, ['v1.0', 'v1.10', 'v2'], 'last alone');
  res = await fetch(`${r.url}/v2/team/app/tags/list?n=3&last=v1.0`);
  t.same(((await res.json()) as { tags: string[] }).tags, ['v1.10', 'v2']);
  t.equal(res.headers.get('link'), null, 'the last page has no Link');
  res = await fetch(`${r.url}/v2/team/app/tags/list?n=0`);
  t.same(await res.json(), { name: 'team/app', tags: [] }, 'n=0 is an empty list');
  t.equal(res.headers.get('link'), null, 'and no Link');
  res = await fetch(`${r.url}/v2/team/app/tags/list?n=1000000000`);
  t.same(((await res.json()) as { tags: string[] }).tags, all, 'a huge n works');

  for (const bad of ['-1', 'abc', '1.5', '0x10']) {
    res = await fetch(`${r.url}/v2/team/app/tags/list?n=${bad}`);
    t.equal(res.status, 400, `n=${bad}`);
    t.equal((await errorCode(res)).code, 'PAGINATION_NUMBER_INVALID');
  }

  res = await fetch(`${r.url}/v2/nobody/here/tags/list`);
  t.equal(res.status, 404);
  t.equal((await errorCode(res)).code, 'NAME_UNKNOWN');
  await pushBlob(r, 'only/blobs', 'a blob and no manifest');
  res = await fetch(`${r.url}/v2/only/blobs/tags/list`);
  t.equal(res.status, 404, 'blobs alone do not make a repository with tags');
  await res.arrayBuffer();
  res = await fetch(`${r.url}/v2/Bad/Name/tags/list`);
  t.equal(res.status, 400);
  t.equal((await errorCode(res)).code, 'NAME_INVALID');
  res = await fetch(`${r.url}/v2/team/app/tags/list`, { method: 'DELETE' });
  t.equal(res.status, 405);
  await res.arrayBuffer();
});

t.test('tags/list caps n and continues with Link', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  const m = await pushImage(r, 'many/tags', 'seed');
  // Lay down 1500 tag files directly: it is the listing under test, not the push.
  const storage = r.registry.ctx.storage;
  const expected = ['seed'];
  for (let i = 0; i < 1500; i++) {
    const tag = `t${String(i).padStart(4, '0')}`;
    expected.push(tag);
    const file = storage.path(tagKey('many/tags', tag));
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, m.digest);
  }
  expected.sort();
  for (const n of ['1000000000', '99999999999999999999', '5000', '']) {
    const res = await fetch(`${r.url}/v2/many/tags/tags/list${n ? `?n=${n}` : ''}`);
    t.equal(res.status, 200, `n=${n}`);
    const body = (await res.json()) as { tags: string[] };
    t.equal(body.tags.length, 1000, `n=${n || 'absent'} is capped at 1000`);
    t.same(body.tags, expected.slice(0, 1000));
    t.equal(res.headers.get('link'), `</v2/many/tags/tags/list?n=1000&last=${expected[999]}>; rel="next"`);
  }
  const all = await collectPages(r, '/v2/many/tags/tags/list?n=1000000000', 'tags');
  t.same(all.items, expected);
  t.equal(all.pages, 2);
});

t.test('catalog: nested names, component order, pagination', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  let res = await fetch(`${r.url}/v2/_catalog`);
  t.same(await res.json(), { repositories: [] }, 'empty registry');

  const names = ['a-b', 'a/b/c', 'a', 'z', 'a/b', 'a.b/x', 'deep/er/and/deeper/still', 'a0'];
  for (const n of names) await pushImage(r, n, 'v1');
  await pushBlob(r, 'blobs/only', 'no manifest here');
  // Component order, as distribution sorts: "a/..." before "a-b", "a.b" and "a0".
  const expected = ['a', 'a/b', 'a/b/c', 'a-b', 'a.b/x', 'a0', 'deep/er/and/deeper/still', 'z'];
  res = await fetch(`${r.url}/v2/_catalog`);
  t.equal(res.status, 200);
  t.same(await res.json(), { repositories: expected });
  t.equal(res.headers.get('link'), null);

  res = await fetch(`${r.url}/v2/_catalog?n=3`);
  t.same(((await res.json()) as { repositories: string[] }).repositories, expected.slice(0, 3));
  t.equal(res.headers.get('link'), `</v2/_catalog?n=3&last=${encodeURIComponent('a/b/c')}>; rel="next"`);
  for (const n of [1, 2, 3, 7, 8, 9]) {
    const paged = await collectPages(r, `/v2/_catalog?n=${n}`, 'repositories');
    t.same(paged.items, expected, `n=${n}: every repository once, in order`);
    t.equal(paged.pages, Math.ceil(expected.length / n), `n=${n}: page count`);
  }
  for (const [last, rest] of [
    ['a/b', expected.slice(2)],
    ['a/a', expected.slice(1)],
    ['a/zzz', expected.slice(3)],
    ['a-a', expected.slice(3)],
    ['b', expected.slice(6)],
    ['deep/er', expected.slice(6)],
    ['zz', []],
  ] as const) {
    res = await fetch(`${r.url}/v2/_catalog?last=${encodeURIComponent(last)}`);
    t.same(((await res.json()) as { repositories: string[] }).repositories, rest, `last=${last}`);
  }
  res = await fetch(`${r.url}/v2/_catalog?n=0`);
  t.same(await res.json(), { repositories: [] });
  t.equal(res.headers.get('link'), null);
  res = await fetch(`${r.url}/v2/_catalog?n=-5`);
  t.equal(res.status, 400);
  t.equal((await errorCode(res)).code, 'PAGINATION_NUMBER_INVALID');
  res = await fetch(`${r.url}/v2/_catalog`, { method: 'POST' });
  t.equal(res.status, 405);
  await res.arrayBuffer();

  // A repository whose manifests were all deleted is still a repository.
  const m = await pushImage(r, 'gone/soon', 'v1');
  res = await fetch(`${r.url}/v2/gone/soon/manifests/${m.digest}`, { method: 'DELETE' });
  t.equal(res.status, 202);
  res = await fetch(`${r.url}/v2/_catalog?last=gone`);
  t.same(((await res.json()) as { repositories: string[] }).repositories, ['gone/soon', 'z']);
});

t.test('catalog caps n and continues with Link', async (t) => {
  const r = await startRegistry();
  t.teardown(() => r.close());
  // 1100 repositories laid down as directories, two levels deep.
  const root = r.registry.ctx.storage.root;
  const expected: string[] = [];
  for (let i = 0; i < 1100; i++) {
    const name = `g${i % 3}/r${String(i).padStart(4, '0')}`;
    expected.push(name);
    await mkdir(join(root, 'docker', name, '_manifests', 'revisions'), { recursive: true });
  }
  expected.sort();
  const res = await fetch(`${r.url}/v2/_catalog?n=1000000000`);
  t.equal(res.status, 200);
  const body = (await res.json()) as { repositories: string[] };
  t.equal(body.repositories.length, 1000, 'capped at 1000');
  t.same(body.repositories, expected.slice(0, 1000));
  t.equal(res.headers.get('link'), `</v2/_catalog?n=1000&last=${encodeURIComponent(expected[999]!)}>; rel="next"`);
  const all = await collectPages(r, '/v2/_catalog?n=1000000000', 'repositories');
  t.same(all.items, expected);
  t.equal(all.pages, 2);
});
