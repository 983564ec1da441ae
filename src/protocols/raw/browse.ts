// Raw files' pages in the web UI: the root directory a page at a time (or,
// filtered, every path containing the text), a directory's entries, and a
// file's size, digest, time and download command. Paths are checked by the
// same rules as /raw/ (keys.ts).
import type { Context } from '../../main/protocol.js';
import { firstPage, formatBytes, formatTime, RecentActivity, uiHref, type Browse, type BrowseEntry, type Cell } from '../../main/browse.js';
import type { RawStore } from './store.js';
import { listDirectory, type Entry } from './listing.js';
import { ROOT, rawPath } from './keys.js';

const PER_PAGE = 100;

const note = (e: Entry) => (e.type === 'file' ? `${formatBytes(e.size)}, ${formatTime(e.modified)}` : 'directory');
const encodePath = (p: string) => p.split('/').map(encodeURIComponent).join('/');

export function rawBrowse(ctx: Context, store: RawStore): Browse {
  const recent = new RecentActivity();
  store.onWrite((path) => recent.add(path, 'uploaded'));

  /** Every stored file's path, in key order. */
  async function* paths(): AsyncGenerator<string> {
    for await (const o of ctx.storage.walk(ROOT)) yield o.key.slice(ROOT.length + 1);
  }

  return {
    label: 'Raw files',
    noun: 'files',
    apiPath: (name) => (name === undefined ? '/raw/' : `/raw/${name}`),
    async list({ after, limit, filter }) {
      if (!filter) {
        const page = await listDirectory(ctx, store, '', after, limit);
        const entries: BrowseEntry[] = (page?.entries ?? []).map((e) => ({ name: e.name, note: note(e) }));
        return { entries, more: page?.next != null };
      }
      const f = filter.toLowerCase();
      return firstPage(paths(), limit, (p) => (after === undefined || p > after) && p.toLowerCase().includes(f));
    },
    async count() {
      let n = 0;
      for await (const _ of paths()) n++;
      return n;
    },
    async view(name, q, base) {
      // The UI decoded the name's segments; rawPath decodes what a URL carries.
      const path = rawPath(`/raw/${encodePath(name.replace(/\/+$/, ''))}`);
      const got = await store.load(path);
      if (got) {
        return {
          title: path,
          facts: [
            ['Path', { text: path, code: true }],
            ['Size', formatBytes(got.file.size)],
            ['SHA-256', { text: got.file.sha256, code: true }],
            ['Uploaded', formatTime(got.file.modified)],
          ],
          commands: [{ label: 'curl', text: `curl -fO ${base}/raw/${encodePath(path)}` }],
          tables: [],
        };
      }
      const dir = `${path}/`;
      const page = await listDirectory(ctx, store, dir, q.get('after') ?? undefined, PER_PAGE);
      if (page === null) return null;
      const rows = page.entries.map((e): Cell[] => [{ text: e.name, href: uiHref('raw', `${path}/${e.name}`) }, note(e)]);
      return {
        title: dir,
        facts: [['Directory', { text: dir, code: true }]],
        commands: [{ label: 'list', text: `curl -fs ${base}/raw/${encodePath(dir)}` }],
        tables: [{ caption: 'Entries', columns: ['Name', 'About'], rows, ...(page.next !== null ? { next: { after: page.next } } : {}) }],
      };
    },
    recent: () => recent.list(),
  };
}
