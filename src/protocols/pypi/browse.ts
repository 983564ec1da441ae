// PyPI's pages in the web UI: hosted projects, and a project's files by
// version with its description (from the newest wheel's PEP 658 metadata,
// read through the content seam) and the pip command.
import { formatBytes, formatTime, RecentActivity, type Browse, type BrowseView, type Cell } from '../../main/browse.js';
import type { PypiContent } from './content.js';
import type { FileRecord, PypiStore } from './store.js';
import { metadataFields } from './metadata.js';
import { isNormalized, normalize } from './normalize.js';
import { readAt } from './zip.js';

/** descriptions larger than this are not shown */
const README_LIMIT = 512 * 1024;

export function pypiBrowse(store: PypiStore, content: PypiContent): Browse {
  const recent = new RecentActivity();
  store.onChange((norm, state) => {
    const newest = Object.entries(state.files).sort((a, b) => b[1].uploaded.localeCompare(a[1].uploaded))[0];
    if (newest) recent.add(norm, newest[0]);
  });

  /** The description from a wheel's metadata, when the newest version has a wheel. */
  async function description(norm: string, files: [string, FileRecord][]): Promise<BrowseView['readme']> {
    const wheel = files.find(([f, r]) => f.endsWith('.whl') && r.metadata && r.metadata.size <= README_LIMIT);
    const file = wheel ? await content.file(norm, `${wheel[0]}.metadata`) : null;
    if (!file) return undefined;
    let text: string;
    try {
      text = (await readAt(file.reader, 0, file.reader.size)).toString('utf8');
    } finally {
      await file.reader.close();
    }
    const body = text.split(/\r?\n\r?\n/).slice(1).join('\n\n').trim();
    if (!body) return undefined;
    const type = metadataFields(text).get('description-content-type')?.[0] ?? '';
    return { markdown: type.toLowerCase().startsWith('text/markdown'), text: body };
  }

  return {
    label: 'PyPI',
    noun: 'projects',
    apiPath: (name) => (name === undefined ? '/simple/' : `/simple/${name}/`),
    async list({ after, limit, filter }) {
      if (!filter) {
        // One page of the listing, not all of it.
        const page = await store.projectPage(after, limit);
        return { entries: page.names.map((name) => ({ name })), more: page.next !== undefined };
      }
      const f = normalize(filter);
      const names = (await store.projects()).filter((n) => (after === undefined || n > after) && n.includes(f));
      return { entries: names.slice(0, limit).map((name) => ({ name })), more: names.length > limit };
    },
    count: async () => (await store.projects()).length,
    async view(name, _q, base) {
      const norm = normalize(name);
      if (!isNormalized(norm)) return null;
      const s = await content.project(norm);
      if (!s) return null;
      const files = Object.entries(s.files).sort((a, b) => b[1].uploaded.localeCompare(a[1].uploaded));
      const rows = files.map(([f, r]): Cell[] => [
        r.version,
        { text: f, href: `/simple/${norm}/${encodeURIComponent(f)}` },
        formatBytes(r.size),
        formatTime(r.uploaded),
        { text: r.sha256.slice(0, 12), code: true },
        r.yanked === false ? '' : `yanked${r.yanked ? `: ${r.yanked}` : ''}`,
      ]);
      const latest = files[0]?.[1].version;
      const facts: BrowseView['facts'] = [['Project', { text: s.name, code: true }]];
      if (latest) facts.push(['Latest', latest]);
      const readme = await description(norm, files);
      return {
        title: s.name,
        facts,
        commands: [{ label: 'pip install', text: `pip install --index-url ${base}/simple/ ${s.name}` }],
        tables: [{ caption: 'Files', columns: ['Version', 'File', 'Size', 'Uploaded', 'SHA-256', 'Yanked'], rows }],
        ...(readme ? { readme } : {}),
      };
    },
    recent: () => recent.list(),
  };
}
