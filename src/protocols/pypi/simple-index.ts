// The Simple Repository API: the project list (/simple/) and project pages
// (/simple/<project>/), as PEP 503 HTML or PEP 691 JSON chosen by the Accept
// header, with PEP 700 fields (api-version 1.1), PEP 592 yanking and PEP
// 658/714 metadata. Non-normalised project URLs redirect to the normalised one.
import { createHash } from 'node:crypto';
import type { Context } from '../../main/protocol.js';
import { sendMemoryResponse, type MemoryResponse, type ReadView, type Reply, type Req } from '../../main/http/types.js';
import { AnswerCache, answerOf, respond, type Answer } from '../../main/http/answer-cache.js';
import { HttpError } from '../../main/errors.js';
import { isNormalized, isValidProject, normalize } from './normalize.js';
import type { FileRecord, ProjectState, PypiStore } from './store.js';
import type { PypiContent } from './content.js';

export const JSON_TYPE = 'application/vnd.pypi.simple.v1+json';
const HTML_V1 = 'application/vnd.pypi.simple.v1+html';
const API_VERSION = '1.1';

type Format = { type: string; json: boolean };
// In order of preference when the client rates several equally.
const OFFERS: [string, Format][] = [
  [JSON_TYPE, { type: JSON_TYPE, json: true }],
  ['application/vnd.pypi.simple.latest+json', { type: JSON_TYPE, json: true }],
  [HTML_V1, { type: HTML_V1, json: false }],
  ['application/vnd.pypi.simple.latest+html', { type: HTML_V1, json: false }],
  ['text/html', { type: 'text/html; charset=utf-8', json: false }],
];
const DEFAULT: Format = { type: 'text/html; charset=utf-8', json: false };

/** PEP 691 content negotiation; null when nothing acceptable is offered (406). */
export function negotiate(accept: string | undefined, format: string | null): Format | null {
  // A literal '+' in the query string arrives as a space (form encoding): accept both.
  if (format) return OFFERS.find(([t]) => t === format.replace(/ /g, '+'))?.[1] ?? null;
  if (!accept || !accept.trim()) return DEFAULT;
  let best: Format | null = null;
  let bestQ = 0;
  let bestRank = Infinity;
  for (const part of accept.split(',')) {
    const [rawType, ...params] = part.trim().split(';').map((s) => s.trim());
    const type = rawType!.toLowerCase();
    const qp = params.find((p) => p.toLowerCase().startsWith('q='));
    const q = qp ? Number(qp.slice(2)) : 1;
    if (!(q > 0)) continue;
    const candidates = type === '*/*' || type === 'text/*' ? [OFFERS.length - 1] : OFFERS.map(([t], i) => (t === type ? i : -1)).filter((i) => i >= 0);
    for (const rank of candidates) {
      if (q > bestQ || (q === bestQ && rank < bestRank)) {
        best = OFFERS[rank]![1];
        bestQ = q;
        bestRank = rank;
      }
    }
  }
  return best;
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

export function fileUrl(base: string, norm: string, filename: string): string {
  return `${base}/simple/${norm}/${encodeURIComponent(filename)}`;
}

/** PEP 700 upload-time: ISO 8601 in UTC with a Z. */
function uploadTime(iso: string): string {
  return new Date(iso).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function cacheHeaders(ctx: Context, fmt: Format): [string, string][] {
  const scope = ctx.config.auth.enabled && !ctx.config.auth.anonymous_read ? 'private' : 'public';
  return [
    ['Content-Type', fmt.type],
    ['Vary', 'Accept'],
    ['Cache-Control', `${scope}, max-age=0, must-revalidate`],
  ];
}

function projectHtml(base: string, s: ProjectState, files: [string, FileRecord][]): string {
  const links = files.map(([name, f]) => {
    let attrs = `href="${esc(fileUrl(base, s.normalized, name))}#sha256=${f.sha256}"`;
    if (f.requires_python) attrs += ` data-requires-python="${esc(f.requires_python)}"`;
    if (f.metadata) attrs += ` data-dist-info-metadata="sha256=${f.metadata.sha256}" data-core-metadata="sha256=${f.metadata.sha256}"`;
    if (f.yanked !== false) attrs += ` data-yanked="${esc(f.yanked)}"`;
    return `    <a ${attrs}>${esc(name)}</a><br />`;
  });
  return [
    '<!DOCTYPE html>',
    '<html>',
    '  <head>',
    `    <meta name="pypi:repository-version" content="${API_VERSION}">`,
    `    <title>Links for ${esc(s.normalized)}</title>`,
    '  </head>',
    '  <body>',
    `    <h1>Links for ${esc(s.normalized)}</h1>`,
    ...links,
    '  </body>',
    '</html>',
    '',
  ].join('\n');
}

function projectJson(base: string, s: ProjectState, files: [string, FileRecord][]): unknown {
  // PEP 700 versions, in the order they were first uploaded.
  const byTime = [...files].sort(([, a], [, b]) => (a.uploaded < b.uploaded ? -1 : a.uploaded > b.uploaded ? 1 : 0));
  const versions = [...new Set(byTime.map(([, f]) => f.version))];
  return {
    meta: { 'api-version': API_VERSION },
    name: s.normalized,
    versions,
    files: files.map(([name, f]) => ({
      filename: name,
      url: fileUrl(base, s.normalized, name),
      hashes: { sha256: f.sha256 },
      ...(f.requires_python ? { 'requires-python': f.requires_python } : {}),
      // PEP 714: only the new key in JSON (pip 22.3–23.1 fail on `dist-info-metadata`).
      ...(f.metadata ? { 'core-metadata': { sha256: f.metadata.sha256 } } : {}),
      yanked: f.yanked,
      size: f.size,
      'upload-time': uploadTime(f.uploaded),
    })),
  };
}

/** Bytes of rendered project pages kept for the memory path. */
const MAX_CACHED_BYTES = 64 * 1024 * 1024;

/** Project pages read `content`; the list of every project reads the hosted `store`. */
export function createSimpleIndex(ctx: Context, store: PypiStore, content: PypiContent) {
  const cache = new AnswerCache<ProjectState>({ maxBytes: MAX_CACHED_BYTES });
  store.onChange((norm) => cache.invalidate(norm));
  const load = (norm: string) => async () => {
    const s = await content.project(norm);
    if (!s || Object.keys(s.files).length === 0) throw new HttpError('NOT_FOUND', `project ${norm} not found`);
    // The stored document names no revision: its serialisation stands for one.
    return { rev: createEtag(JSON.stringify(s)), state: s };
  };

  // Display names of every project, loaded once and kept current by the store.
  let names: Map<string, string> | null = null;
  store.onChange((norm, s) => names?.set(norm, s.name));

  async function allNames(): Promise<Map<string, string>> {
    if (names) return names;
    const m = new Map<string, string>();
    for (const norm of await store.projects()) {
      const s = await store.read(norm).catch(() => null);
      if (s) m.set(norm, s.name);
    }
    names ??= m;
    return names;
  }

  function format(req: Req): Format {
    const fmt = negotiate(req.headers.accept, req.query.get('format'));
    if (!fmt) throw new HttpError('NOT_ACCEPTABLE', `not acceptable; offered: ${OFFERS.map(([t]) => t).join(', ')}`);
    return fmt;
  }

  return {
    async list(req: Req, reply: Reply): Promise<void> {
      const fmt = format(req);
      const all = [...(await allNames()).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      for (const [k, v] of cacheHeaders(ctx, fmt)) reply.header(k, v);
      if (fmt.json) {
        reply.status(200).send(JSON.stringify({ meta: { 'api-version': API_VERSION }, projects: all.map(([, name]) => ({ name })) }));
        return;
      }
      const base = ctx.linkBase(req);
      const body = [
        '<!DOCTYPE html>',
        '<html>',
        '  <head>',
        `    <meta name="pypi:repository-version" content="${API_VERSION}">`,
        '    <title>Simple index</title>',
        '  </head>',
        '  <body>',
        ...all.map(([norm, name]) => `    <a href="${esc(`${base}/simple/${norm}/`)}">${esc(name)}</a><br />`),
        '  </body>',
        '</html>',
        '',
      ].join('\n');
      reply.status(200).send(body);
    },

    /** `raw` is the decoded path segment; `slash` whether the URL ended with '/'. */
    async project(req: Req, reply: Reply, raw: string, slash: boolean): Promise<void> {
      if (!isValidProject(raw)) throw new HttpError('NOT_FOUND', `project ${raw} not found`);
      const norm = normalize(raw);
      if (!slash || !isNormalized(raw)) {
        const q = req.rawQuery ? `?${req.rawQuery}` : '';
        reply.status(301).header('Location', `${ctx.linkBase(req)}/simple/${norm}/${q}`).send();
        return;
      }
      const fmt = format(req);
      const base = ctx.linkBase(req);
      const a = await cache.answer(norm, `${fmt.type}\n${base}`, load(norm), (s) => renderProject(ctx, base, s, fmt));
      sendMemoryResponse(reply, respond(a, req));
    },

    /** A project page from memory (see Protocol.cached): only at its normalised URL, without a query. */
    cached(req: ReadView, raw: string): MemoryResponse | undefined {
      if (req.rawQuery !== '' || !isNormalized(raw)) return undefined;
      const fmt = negotiate(req.headers.accept, null);
      if (fmt === null) return undefined;
      const a = cache.peek(raw, `${fmt.type}\n${ctx.linkBase(req)}`);
      return a && respond(a, req);
    },
  };
}

/** A project page; links follow the host asked for, and the ETag hashes the body, links included. */
function renderProject(ctx: Context, base: string, s: ProjectState, fmt: Format): Answer {
  const files = Object.entries(s.files).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const body = fmt.json ? JSON.stringify(projectJson(base, s, files)) : projectHtml(base, s, files);
  const etag = `"${createEtag(body)}"`;
  return answerOf(etag, [...cacheHeaders(ctx, fmt), ['ETag', etag]], body, () => true);
}

function createEtag(body: string): string {
  return createHash('sha256').update(body).digest('hex').slice(0, 32);
}
