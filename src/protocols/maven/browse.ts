// Maven's pages in the web UI: artifacts as groupId:artifactId (found by
// walking the artifact documents, read until a page is full), and an
// artifact's versions with their files, read through the content seam, with
// the repository URL and a dependency snippet for this registry.
import type { Context } from '../../main/protocol.js';
import { firstPage, formatBytes, formatTime, RecentActivity, type Browse, type BrowseView, type Cell } from '../../main/browse.js';
import type { MavenContent } from './content.js';
import type { MavenStore } from './store.js';
import { coordinates, PREFIX, segmentsOf, type Coordinates } from './paths.js';

const VERSIONS_SHOWN = 50;
const ARTIFACT_DOC = '/@artifact.json';

/** "com.example:demo" → coordinates, or null when it is not one. */
function parseName(name: string): Coordinates | null {
  const i = name.lastIndexOf(':');
  if (i <= 0) return null;
  const c = { group: name.slice(0, i).split('.'), artifact: name.slice(i + 1) };
  if (c.group.includes('') || c.artifact === '') return null;
  try {
    segmentsOf([...c.group, c.artifact].map(encodeURIComponent).join('/'));
  } catch {
    return null;
  }
  return c;
}

const pathOf = (c: Coordinates) => `${PREFIX}/${[...c.group, c.artifact].join('/')}`;

export function mavenBrowse(ctx: Context, store: MavenStore, content: MavenContent): Browse {
  const recent = new RecentActivity();
  store.onDeploy((c, version) => recent.add(coordinates(c), version));

  /** Every artifact's name, in key order. */
  async function* artifacts(): AsyncGenerator<string> {
    for await (const o of ctx.storage.walk('maven')) {
      if (!o.key.endsWith(ARTIFACT_DOC)) continue;
      const segs = o.key.slice('maven/'.length, -ARTIFACT_DOC.length).split('/');
      yield `${segs.slice(0, -1).join('.')}:${segs[segs.length - 1]}`;
    }
  }

  return {
    label: 'Maven',
    noun: 'artifacts',
    apiPath: (name) => {
      const c = name === undefined ? null : parseName(name);
      return c ? `${pathOf(c)}/maven-metadata.xml` : `${PREFIX}/`;
    },
    async list({ after, limit, filter }) {
      const f = filter?.toLowerCase() ?? '';
      // Key order is not name order: a page starts after the entry named `after`.
      let past = after === undefined;
      return firstPage(artifacts(), limit, (n) => {
        if (past) return n.toLowerCase().includes(f);
        past = n === after;
        return false;
      });
    },
    async count() {
      let n = 0;
      for await (const _ of artifacts()) n++;
      return n;
    },
    async view(name, _q, base) {
      const c = parseName(name);
      const a = c && (await content.artifact(c));
      if (!c || !a) return null;
      const shown = a.versions.slice(-VERSIONS_SHOWN).reverse();
      const docs = await Promise.all(shown.map((v) => content.version(c, v)));
      const rows: Cell[][] = [];
      shown.forEach((v, i) => {
        for (const [file, rec] of Object.entries(docs[i]?.files ?? {})) {
          rows.push([v, { text: file, href: `${pathOf(c)}/${encodeURIComponent(v)}/${encodeURIComponent(file)}` }, formatBytes(rec.size), formatTime(rec.modified)]);
        }
      });
      const latest = shown[0];
      const facts: BrowseView['facts'] = [
        ['groupId', { text: a.groupId, code: true }],
        ['artifactId', { text: a.artifactId, code: true }],
      ];
      if (latest) facts.push(['Latest', latest]);
      facts.push(['Updated', formatTime(a.lastUpdated)]);
      return {
        title: name,
        facts,
        commands: [
          { label: 'repository URL', text: `${base}${PREFIX}/` },
          { label: 'dependency', text: `<dependency><groupId>${a.groupId}</groupId><artifactId>${a.artifactId}</artifactId><version>${latest ?? ''}</version></dependency>` },
        ],
        tables: [{ caption: a.versions.length > VERSIONS_SHOWN ? `Files of the latest ${VERSIONS_SHOWN} versions` : 'Files', columns: ['Version', 'File', 'Size', 'Deployed'], rows }],
      };
    },
    recent: () => recent.list(),
  };
}
