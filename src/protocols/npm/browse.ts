// npm's pages in the web UI: hosted packages (from the search module's
// in-memory summaries, kept current by the store's change events, so a
// listing reads no package document), and a package's dist-tags, versions,
// readme and install command, read through the content seam.
import type { Context } from '../../main/protocol.js';
import { formatBytes, formatTime, RecentActivity, type Browse, type Cell } from '../../main/browse.js';
import type { NpmContent } from './content.js';
import type { NpmStore } from './store.js';
import type { Summary } from './search.js';
import { parseName } from './names.js';

/** versions shown on a package's page, newest first */
const VERSIONS_SHOWN = 100;

export function npmBrowse(ctx: Context, store: NpmStore, content: NpmContent, summaries: () => Promise<Map<string, Summary>>): Browse {
  const recent = new RecentActivity();
  store.onChange((name, state) => {
    const latest = state?.distTags.latest;
    if (latest) recent.add(name, latest);
  });

  return {
    label: 'npm',
    noun: 'packages',
    apiPath: (name) => (name === undefined ? '/npm/-/v1/search' : `/npm/${name}`),
    async list({ after, limit, filter }) {
      const f = filter?.toLowerCase() ?? '';
      const all = [...(await summaries()).values()]
        .filter((s) => (after === undefined || s.name > after) && (f === '' || s.name.includes(f) || s.description.toLowerCase().includes(f)))
        .sort((a, b) => (a.name < b.name ? -1 : 1));
      return { entries: all.slice(0, limit).map((s) => ({ name: s.name, note: `${s.version}${s.description ? ` · ${s.description}` : ''}` })), more: all.length > limit };
    },
    count: async () => (await summaries()).size,
    async view(name, _q, base) {
      if (!parseName(name)) return null;
      const s = await content.packument(name);
      if (!s) return null;
      const latest = s.distTags.latest;
      const m = latest ? s.versions[latest] : undefined;
      const text = (v: unknown) => (typeof v === 'string' ? v : '');
      const facts: [string, Cell][] = [['Package', { text: name, code: true }]];
      if (latest) facts.push(['Latest', latest]);
      const description = text(m?.description ?? s.info.description);
      if (description) facts.push(['Description', description]);
      const license = text(m?.license);
      if (license) facts.push(['License', license]);
      if (s.maintainers.length) facts.push(['Maintainers', s.maintainers.map((x) => x.name).join(', ')]);
      facts.push(['Modified', formatTime(s.modified)]);
      const sizes = new Map(Object.entries(s.files).map(([file, f]) => [f.version, { file, size: f.size }]));
      const versions = Object.keys(s.versions)
        .sort((a, b) => (s.times[b] ?? '').localeCompare(s.times[a] ?? ''))
        .slice(0, VERSIONS_SHOWN)
        .map((v): Cell[] => {
          const f = sizes.get(v);
          return [v, formatTime(s.times[v]), f ? formatBytes(f.size) : '', f ? { text: f.file, href: `/npm/${name}/-/${encodeURIComponent(f.file)}` } : ''];
        });
      const readme = text(s.info.readme) || text(m?.readme);
      return {
        title: name,
        facts,
        commands: [{ label: 'npm install', text: `npm install --registry=${base}/npm/ ${name}` }],
        tables: [
          { caption: 'Dist-tags', columns: ['Tag', 'Version'], rows: Object.entries(s.distTags).map(([t, v]) => [t, v]) },
          { caption: 'Versions', columns: ['Version', 'Published', 'Size', 'Tarball'], rows: versions },
        ],
        ...(readme ? { readme: { markdown: true, text: readme } } : {}),
      };
    },
    recent: () => recent.list(),
  };
}
