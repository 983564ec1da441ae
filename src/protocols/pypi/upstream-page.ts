// An upstream index's project page (PEP 691 JSON, or PEP 503 HTML) made into
// a project state like a hosted one, so the same renderer serves it with
// links to nora-ts. The page is untrusted: a file is kept only when its name
// is a plain distribution file name of this very project with a version, its
// URL is http(s), and it carries a sha256 (what its download is checked
// against and stored under); everything else on the page is dropped.
import { filenameProblem, normalize, versionIn } from './normalize.js';
import type { FileRecord, ProjectState } from './store.js';

export interface UpstreamProject {
  state: ProjectState;
  /** file name → absolute upstream URL */
  sources: Record<string, string>;
}

interface Link {
  href: string;
  sha256: string | undefined;
  requiresPython: string | undefined;
  yanked: false | string;
  size: number;
  uploaded: string | undefined;
}

const SHA256 = /^[0-9a-f]{64}$/;
/** PEP 440 versions as they appear in file names (normalised or not). */
const VERSION = /^v?\d[A-Za-z0-9.!+_]*$/;
const MAX_TEXT = 1024;

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const text = (v: unknown): string | undefined => (typeof v === 'string' && v.length <= MAX_TEXT ? v : undefined);

const ENTITY: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
function unescape(s: string): string {
  return s.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]{2,6});/gi, (m, e: string) => {
    if (e[0] === '#') {
      const n = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : m;
    }
    return ENTITY[e.toLowerCase()] ?? m;
  });
}

/** The anchors of a PEP 503 page: href, and the data- attributes pip reads. */
function htmlLinks(html: string): Link[] {
  const links: Link[] = [];
  for (const a of html.matchAll(/<a\s([^>]*)>/gi)) {
    const attrs = new Map<string, string>();
    for (const m of a[1]!.matchAll(/([a-z][a-z0-9_:-]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/gi))
      attrs.set(m[1]!.toLowerCase(), unescape(m[2] ?? m[3] ?? m[4] ?? ''));
    const href = attrs.get('href');
    if (!href) continue;
    const hash = /#sha256=([0-9a-fA-F]{64})$/.exec(href);
    links.push({
      href,
      sha256: hash?.[1]!.toLowerCase(),
      requiresPython: text(attrs.get('data-requires-python')),
      yanked: attrs.has('data-yanked') ? (text(attrs.get('data-yanked')) ?? '') : false,
      size: 0,
      uploaded: undefined,
    });
  }
  return links;
}

/** The files of a PEP 691 page; null when it is not one. */
function jsonLinks(doc: unknown): Link[] | null {
  if (!isObject(doc) || !Array.isArray(doc.files)) return null;
  return doc.files.filter(isObject).flatMap((f) => {
    if (typeof f.url !== 'string') return [];
    const hashes = isObject(f.hashes) ? f.hashes : {};
    return [
      {
        href: f.url,
        sha256: typeof hashes.sha256 === 'string' ? hashes.sha256.toLowerCase() : undefined,
        requiresPython: text(f['requires-python']),
        yanked: f.yanked === true ? '' : (text(f.yanked) ?? false),
        size: typeof f.size === 'number' && Number.isSafeInteger(f.size) && f.size >= 0 ? f.size : 0,
        uploaded: text(f['upload-time']),
      },
    ];
  });
}

/** Null when the page is neither a PEP 691 document nor HTML. */
export function fromUpstreamPage(norm: string, body: Buffer, contentType: string, pageUrl: string, now: string): UpstreamProject | null {
  let links: Link[] | null;
  let name = norm;
  if (/json/i.test(contentType)) {
    let doc: unknown;
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch {
      return null;
    }
    links = jsonLinks(doc);
    const shown = isObject(doc) ? text(doc.name) : undefined;
    if (shown && normalize(shown) === norm) name = shown;
  } else {
    links = /html/i.test(contentType) || contentType === '' ? htmlLinks(body.toString('utf8')) : null;
  }
  if (!links) return null;
  const files: Record<string, FileRecord> = {};
  const sources: Record<string, string> = {};
  for (const l of links) {
    let url: URL;
    try {
      url = new URL(l.href, pageUrl);
    } catch {
      continue;
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password) continue;
    let filename: string;
    try {
      filename = decodeURIComponent(url.pathname.slice(url.pathname.lastIndexOf('/') + 1));
    } catch {
      continue;
    }
    const version = versionIn(filename, norm);
    if (!l.sha256 || !SHA256.test(l.sha256) || filenameProblem(filename) || !version || !VERSION.test(version) || Object.hasOwn(files, filename)) continue;
    url.hash = '';
    files[filename] = {
      version,
      sha256: l.sha256,
      size: l.size,
      uploaded: l.uploaded && !Number.isNaN(Date.parse(l.uploaded)) ? new Date(l.uploaded).toISOString() : now,
      ...(l.requiresPython ? { requires_python: l.requiresPython } : {}),
      yanked: l.yanked,
    };
    sources[filename] = url.href;
  }
  return { state: { name, normalized: norm, files }, sources };
}
