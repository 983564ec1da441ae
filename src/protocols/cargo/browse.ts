// Cargo's pages in the web UI: hosted crates (the store's listing of
// canonical names, read until a page is full), and a crate's versions with their publisher, size and yank state,
// owners, and the lines that point cargo at this registry.
import { firstPage, formatBytes, formatTime, RecentActivity, type Browse, type Cell } from '../../main/browse.js';
import type { CargoStore } from './store.js';
import { canonical, highest, isValidCrate } from './names.js';

export function cargoBrowse(store: CargoStore): Browse {
  const recent = new RecentActivity();
  store.onChange((s) => {
    const last = s.versions[s.versions.length - 1];
    if (last) recent.add(s.name, last.entry.vers);
  });

  return {
    label: 'Cargo',
    noun: 'crates',
    apiPath: (name) => (name === undefined ? '/cargo/api/v1/crates' : `/cargo/api/v1/crates/${name}/owners`),
    async list({ after, limit, filter }) {
      // Names are listed in their canonical spelling (lower case, '_' for '-'), so is the filter.
      const f = canonical(filter ?? '');
      return firstPage(store.names(), limit, (n) => (after === undefined || n > after) && n.includes(f));
    },
    async count() {
      let n = 0;
      for await (const _ of store.names()) n++;
      return n;
    },
    async view(name, _q, base) {
      if (!isValidCrate(name)) return null;
      const s = await store.read(name);
      if (!s) return null;
      const live = s.versions.filter((v) => !v.entry.yanked).map((v) => v.entry.vers);
      const latest = highest(live);
      const described = [...s.versions].reverse().find((v) => v.description)?.description;
      const facts: [string, Cell][] = [['Crate', { text: s.name, code: true }]];
      if (latest) facts.push(['Latest', latest]);
      if (described) facts.push(['Description', described]);
      facts.push(['Owners', s.owners.join(', ')], ['Modified', formatTime(s.modified)]);
      const rows = [...s.versions].reverse().map((v): Cell[] => [
        v.entry.vers,
        formatTime(v.published_at),
        v.published_by,
        { text: formatBytes(v.size), href: `/cargo/api/v1/crates/${encodeURIComponent(s.name)}/${encodeURIComponent(v.entry.vers)}/download` },
        v.entry.yanked ? 'yanked' : '',
      ]);
      return {
        title: s.name,
        facts,
        commands: [
          { label: 'registry', text: `export CARGO_REGISTRIES_NORA_INDEX=sparse+${base}/cargo/index/` },
          { label: 'cargo add', text: `cargo add ${s.name} --registry nora` },
        ],
        tables: [{ caption: 'Versions', columns: ['Version', 'Published', 'By', 'Size', 'Yanked'], rows }],
      };
    },
    recent: () => recent.list(),
  };
}
