// Docker's pages in the web UI: repositories (the catalog's walk), a
// repository's tags with digest, size, platforms and creation time (one page
// of tags at a time, so a repository with 10,000 tags costs one page), and a
// manifest's layers or per-platform manifests and its referrers. Reads go
// through the content seam and the manifest store; image configs (immutable
// per digest) come through the store's content cache.
import type { Context } from '../../main/protocol.js';
import { formatBytes, formatTime, RecentActivity, uiHref, type Browse, type BrowseView, type Cell } from '../../main/browse.js';
import { parseDigest, type Digest } from '../../main/digest.js';
import type { DockerContent, Manifest } from './content.js';
import { listRepositories } from './catalog.js';
import { mapLimit, type ManifestStore } from './manifest-store.js';
import { isValidName, readReference } from './names.js';

const TAGS_PER_PAGE = 50;
const REFERRERS_SHOWN = 50;
/** configs larger than this are not read for their creation time and platform */
const CONFIG_LIMIT = 256 * 1024;
const IO_CONCURRENCY = 16;
/** an image's config type is its artifact type only in the referrers API's sense: not worth a line */
const IMAGE_CONFIGS = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);

interface Descriptor {
  digest: string;
  size: number;
  mediaType?: string;
  artifactType?: string;
  platform?: { os?: string; architecture?: string; variant?: string };
}

interface Parsed {
  kind: 'image' | 'index';
  config?: Descriptor;
  layers: Descriptor[];
  children: Descriptor[];
}

function parse(m: Manifest): Parsed {
  let doc: { config?: Descriptor; layers?: Descriptor[]; manifests?: Descriptor[] };
  try {
    doc = JSON.parse(m.bytes.toString('utf8'));
  } catch {
    return { kind: 'image', layers: [], children: [] }; // checked when pushed; a page shows what it can
  }
  if (Array.isArray(doc.manifests)) return { kind: 'index', layers: [], children: doc.manifests };
  return { kind: 'image', config: doc.config, layers: Array.isArray(doc.layers) ? doc.layers : [], children: [] };
}

const platformOf = (p: Descriptor['platform'] | { os?: string; architecture?: string; variant?: string } | undefined): string =>
  p?.os ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : '';

const short = (digest: string): Cell => ({ text: digest.slice(0, 19), code: true });

export function dockerBrowse(ctx: Context, store: ManifestStore, content: DockerContent): Browse {
  const recent = new RecentActivity();
  store.onTag((name, tag) => recent.add(name, tag));

  /** Creation time and platform from an image's config, '' when unknown. */
  async function configFacts(p: Parsed): Promise<{ created: string; platform: string }> {
    const d = p.config && p.config.size <= CONFIG_LIMIT ? parseDigest(p.config.digest) : null;
    const raw = d ? await store.content(d).catch(() => null) : null;
    if (!raw) return { created: '', platform: '' };
    try {
      const c = JSON.parse(raw.toString('utf8')) as { created?: string; os?: string; architecture?: string; variant?: string };
      return { created: formatTime(c.created), platform: platformOf(c) };
    } catch {
      return { created: '', platform: '' };
    }
  }

  /** What a tag's row and a manifest's page show. */
  async function summary(m: Manifest): Promise<{ p: Parsed; size: number; platforms: string; created: string }> {
    const p = parse(m);
    if (p.kind === 'index') {
      const platforms = p.children.map((c) => platformOf(c.platform)).filter(Boolean).join(', ');
      return { p, size: p.children.reduce((n, c) => n + (c.size || 0), m.bytes.length), platforms, created: '' };
    }
    const f = await configFacts(p);
    const size = p.layers.reduce((n, l) => n + (l.size || 0), m.bytes.length + (p.config?.size ?? 0));
    return { p, size, platforms: f.platform, created: f.created };
  }

  function commands(base: string, name: string, ref: string): BrowseView['commands'] {
    const host = base.replace(/^https?:\/\//, '');
    const at = ref.includes(':') ? `@${ref}` : `:${ref}`;
    const insecure = base.startsWith('http:') ? ' --src-tls-verify=false' : '';
    const local = name.slice(name.lastIndexOf('/') + 1);
    return [
      { label: 'docker pull', text: `docker pull ${host}/${name}${at}` },
      { label: 'skopeo copy', text: `skopeo copy${insecure} docker://${host}/${name}${at} oci:${local}:${ref.includes(':') ? 'latest' : ref}` },
    ];
  }

  async function repository(name: string, q: URLSearchParams, base: string): Promise<BrowseView | null> {
    const last = q.get('last') ?? undefined;
    const page = await content.tags(name, TAGS_PER_PAGE, last);
    if (page === null) return null;
    const rows = await mapLimit(page.names, IO_CONCURRENCY, async (tag): Promise<Cell[]> => {
      const m = await content.manifest(name, { kind: 'tag', tag }).catch(() => null);
      if (!m) return [tag, '', '', '', ''];
      const s = await summary(m);
      return [{ text: tag, href: uiHref('docker', name, { ref: tag }) }, short(m.digest.value), formatBytes(s.size), s.platforms || (s.p.kind === 'index' ? 'index' : ''), s.created];
    });
    const first = page.names[0];
    return {
      title: name,
      facts: [['Repository', { text: name, code: true }]],
      commands: first ? commands(base, name, first) : [],
      tables: [
        {
          caption: last ? `Tags after ${last}` : 'Tags',
          columns: ['Tag', 'Digest', 'Size', 'Platforms', 'Created'],
          rows,
          ...(page.more ? { next: { last: page.names[page.names.length - 1]! } } : {}),
        },
      ],
    };
  }

  async function referrers(name: string, subject: Digest): Promise<Cell[][]> {
    const page = await store.listReferrers(name, subject, REFERRERS_SHOWN);
    return mapLimit(page.names, IO_CONCURRENCY, async (entry): Promise<Cell[]> => {
      const d = (await store.readReferrer(name, subject, entry).catch(() => null)) as Descriptor | null;
      if (!d) return [entry, '', ''];
      return [{ text: d.digest.slice(0, 19), href: uiHref('docker', name, { ref: d.digest }), code: true }, d.artifactType ?? d.mediaType ?? '', formatBytes(d.size)];
    });
  }

  async function manifestPage(name: string, ref: string, base: string): Promise<BrowseView | null> {
    let r;
    try {
      r = readReference(ref);
    } catch {
      r = null;
    }
    const m = r ? await content.manifest(name, r) : null;
    if (!m) return null;
    const s = await summary(m);
    const facts: BrowseView['facts'] = [
      ['Repository', { text: name, href: uiHref('docker', name) }],
      ['Digest', { text: m.digest.value, code: true }],
      ['Media type', { text: m.meta.mediaType, code: true }],
      ['Size', formatBytes(s.size)],
    ];
    if (s.platforms) facts.push(['Platforms', s.platforms]);
    if (s.created) facts.push(['Created', s.created]);
    if (m.meta.artifactType && !IMAGE_CONFIGS.has(m.meta.artifactType)) facts.push(['Artifact type', { text: m.meta.artifactType, code: true }]);
    const tables: BrowseView['tables'] = [];
    if (s.p.kind === 'index') {
      tables.push({
        caption: 'Platforms',
        columns: ['Platform', 'Manifest', 'Size'],
        rows: s.p.children.map((c) => [platformOf(c.platform) || c.artifactType || '', { text: c.digest.slice(0, 19), href: uiHref('docker', name, { ref: c.digest }), code: true }, formatBytes(c.size)]),
      });
    } else {
      const layers: Cell[][] = s.p.layers.map((l) => [short(l.digest), l.mediaType ?? '', formatBytes(l.size)]);
      if (s.p.config) layers.unshift([short(s.p.config.digest), `${s.p.config.mediaType ?? ''} (config)`, formatBytes(s.p.config.size)]);
      tables.push({ caption: 'Config and layers', columns: ['Digest', 'Media type', 'Size'], rows: layers });
    }
    tables.push({ caption: 'Referrers (signatures, SBOMs, attestations)', columns: ['Manifest', 'Artifact type', 'Size'], rows: await referrers(name, m.digest) });
    return { title: `${name}${ref.includes(':') ? '@' : ':'}${ref}`, facts, commands: commands(base, name, ref), tables };
  }

  return {
    label: 'Docker',
    noun: 'repositories',
    apiPath: (name) => (name === undefined ? '/v2/_catalog' : `/v2/${name}/tags/list`),
    async list({ after, limit, filter }) {
      const f = filter?.toLowerCase();
      const names = await listRepositories(ctx.storage, limit + 1, after, f ? (n) => n.includes(f) : undefined);
      return { entries: names.slice(0, limit).map((name) => ({ name })), more: names.length > limit };
    },
    async count() {
      return (await listRepositories(ctx.storage, Infinity)).length;
    },
    async view(name, q, base) {
      if (!isValidName(name)) return null;
      const ref = q.get('ref');
      return ref === null ? repository(name, q, base) : manifestPage(name, ref, base);
    },
    recent: () => recent.list(),
  };
}
