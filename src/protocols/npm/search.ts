// GET /npm/-/v1/search?text=&size=&from=: the registry search API over hosted
// packages. An in-memory summary per package is built on the first search and
// kept current by the store's change events.
import type { Context } from '../../main/protocol.js';
import type { Reply, Req } from '../../main/http/types.js';
import { methodNotAllowed } from '../../main/errors.js';
import type { NpmStore, PackageState } from './store.js';

export interface Summary {
  name: string;
  scope: string;
  version: string;
  description: string;
  keywords: string[];
  date: string;
  publisher: { username: string };
  maintainers: { username: string; email?: string }[];
}

function summarize(s: PackageState): Summary | null {
  const version = s.distTags.latest;
  const m = version ? s.versions[version] : undefined;
  if (!version || !m) return null;
  const kw = m.keywords ?? s.info.keywords;
  const publisher = (m._npmUser as { name?: string } | undefined)?.name ?? s.maintainers[0]?.name ?? '';
  return {
    name: s.name,
    scope: s.name.startsWith('@') ? s.name.slice(1, s.name.indexOf('/')) : 'unscoped',
    version,
    description: typeof m.description === 'string' ? m.description : '',
    keywords: Array.isArray(kw) ? kw.filter((k): k is string => typeof k === 'string') : [],
    date: s.times[version] ?? s.modified,
    publisher: { username: publisher },
    maintainers: s.maintainers.map((x) => ({ username: x.name, ...(x.email ? { email: x.email } : {}) })),
  };
}

interface Query {
  terms: string[];
  keywords: string[];
  scope: string | null;
  author: string | null;
}

function parseQuery(text: string): Query {
  const q: Query = { terms: [], keywords: [], scope: null, author: null };
  for (const word of text.toLowerCase().split(/\s+/).filter(Boolean)) {
    const i = word.indexOf(':');
    const key = i > 0 ? word.slice(0, i) : '';
    const value = word.slice(i + 1);
    if (key === 'keywords') q.keywords.push(...value.split(',').filter(Boolean));
    else if (key === 'scope') q.scope = value.replace(/^@/, '');
    else if (key === 'author' || key === 'maintainer') q.author = value;
    else if (key === 'not' || key === 'is' || key === 'boost-exact') continue;
    else q.terms.push(word);
  }
  return q;
}

/** 0 when the package does not match; otherwise higher is better. */
function score(p: Summary, q: Query): number {
  const kws = p.keywords.map((k) => k.toLowerCase());
  if (q.scope !== null && p.scope !== q.scope) return 0;
  if (q.author !== null && !p.maintainers.some((m) => m.username.toLowerCase() === q.author) && p.publisher.username.toLowerCase() !== q.author) return 0;
  if (!q.keywords.every((k) => kws.includes(k))) return 0;
  let total = 1;
  const name = p.name.toLowerCase();
  const desc = p.description.toLowerCase();
  for (const t of q.terms) {
    if (name === t || name.endsWith(`/${t}`)) total += 10;
    else if (name.includes(t)) total += 5;
    else if (kws.includes(t)) total += 3;
    else if (kws.some((k) => k.includes(t)) || desc.includes(t)) total += 1;
    else return 0;
  }
  return total;
}

export function createSearch(ctx: Context, store: NpmStore) {
  let index: Map<string, Summary> | null = null;
  let loading: Promise<Map<string, Summary>> | null = null;
  const pending = new Map<string, PackageState | null>();

  store.onChange((name, state) => {
    if (index) {
      const s = state && summarize(state);
      if (s) index.set(name, s);
      else index.delete(name);
    } else if (loading) {
      pending.set(name, state); // applied once the scan finishes
    }
  });

  async function load(): Promise<Map<string, Summary>> {
    if (index) return index;
    loading ??= (async () => {
      const m = new Map<string, Summary>();
      for (const name of await store.names()) {
        const s = await store.read(name).catch(() => null);
        const sum = s && summarize(s);
        if (sum) m.set(name, sum);
      }
      for (const [name, state] of pending) {
        const sum = state && summarize(state);
        if (sum) m.set(name, sum);
        else m.delete(name);
      }
      pending.clear();
      index = m;
      return m;
    })();
    try {
      return await loading;
    } finally {
      loading = null;
    }
  }

  return {
    /** Every hosted package's summary, by name (the web UI lists and counts them). */
    summaries: load,
    async handle(req: Req, reply: Reply): Promise<void> {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed('GET, HEAD');
      const q = parseQuery(req.query.get('text') ?? '');
      const size = Math.min(250, Math.max(0, Number.parseInt(req.query.get('size') ?? '20', 10) || 20));
      const from = Math.max(0, Number.parseInt(req.query.get('from') ?? '0', 10) || 0);
      const all = await load();
      const hits = [...all.values()]
        .map((p) => ({ p, s: score(p, q) }))
        .filter((h) => h.s > 0)
        .sort((a, b) => b.s - a.s || (a.p.name < b.p.name ? -1 : 1));
      const max = hits[0]?.s ?? 1;
      const base = ctx.linkBase(req);
      const objects = hits.slice(from, from + size).map(({ p, s }) => ({
        package: { ...p, links: { npm: `${base}/npm/${p.name}` } },
        score: { final: s / max, detail: { quality: 1, popularity: 1, maintenance: 1 } },
        searchScore: s,
      }));
      reply.header('Cache-Control', 'private, no-cache');
      reply.json(200, { objects, total: hits.length, time: new Date().toUTCString() });
    },
  };
}
