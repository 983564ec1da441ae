// The browsing pages: the dashboard, a format's list (paginated, filtered),
// an entry's page (whatever the format's Browse returns), and search across
// every format the visitor may list.
import type { Req, Reply } from '../../main/http/types.js';
import { HttpError } from '../../main/errors.js';
import { formatBytes, formatTime, uiHref } from '../../main/browse.js';
import { html } from './html.js';
import { sendHtml } from './http.js';
import { page, table, view, type Format } from './layout.js';
import { Cached } from './stats.js';
import { trafficCharts, type Traffic } from './traffic.js';
import type { Viewer } from './viewer.js';
import type { Ui } from './ui.js';

const PER_PAGE = 50;
const SEARCH_PER_FORMAT = 20;
const RECENT_SHOWN = 10;
const MAX_FILTER = 200;
const COUNT_TTL_MS = 30_000;
/** a walk of every blob: rarely */
const STORAGE_TTL_MS = 5 * 60_000;
/** the probe writes an object: not once per view */
const PROBE_TTL_MS = 10_000;

export function createPages(ui: Ui, traffic: Traffic) {
  const { ctx } = ui;
  const counts = new Map<string, Cached<number>>();
  const countOf = (f: Format) => {
    let c = counts.get(f.name);
    if (!c) counts.set(f.name, (c = new Cached(() => f.browse.count(), COUNT_TTL_MS, ctx.log, `${f.name} count`)));
    return c.get();
  };
  const stored = new Cached(
    async () => {
      let bytes = 0;
      let blobs = 0;
      for await (const o of ctx.storage.walk('blobs')) {
        bytes += o.size;
        blobs++;
      }
      return { bytes, blobs };
    },
    STORAGE_TTL_MS,
    ctx.log,
    'storage used',
  );
  const probe = new Cached(() => ctx.storage.probe(), PROBE_TTL_MS, ctx.log, 'storage probe');
  const counting = html`<span class="muted">counting…</span>`;

  const listable = (v: Viewer) => ui.formats().filter((f) => v.may(f.name, f.browse.apiPath()));

  async function dashboard(req: Req, reply: Reply, v: Viewer): Promise<void> {
    const formats = listable(v);
    const [nums, used, healthy] = await Promise.all([Promise.all(formats.map(countOf)), stored.get(), probe.get(1000)]);
    const recent = formats
      .flatMap((f) => f.browse.recent().map((a) => ({ ...a, f })))
      .sort((a, b) => b.at - a.at)
      .slice(0, RECENT_SHOWN);
    const body = html`<section aria-labelledby="formats-h"><h2 id="formats-h">Formats</h2><div class="grid">
${formats.map((f, i) => html`<div class="card"><a href="/ui/${f.name}/">${f.browse.label}</a><div class="n">${nums[i] ?? counting}</div><div class="muted">${f.browse.noun}</div></div>`)}
<div class="card">Storage used<div class="n">${used ? formatBytes(used.bytes) : counting}</div><div class="muted">${used ? `${used.blobs} blobs, ` : ''}${ctx.storage.name} driver</div></div>
<div class="card">Health<div class="n">${healthy === true ? 'healthy' : 'degraded'}</div><div class="muted">version ${ctx.version}, auth ${ctx.config.auth.enabled ? 'on' : 'off'}</div></div>
</div></section>
<section aria-labelledby="recent-h"><h2 id="recent-h">Recent pushes and publishes</h2>
${recent.length
  ? html`<ul>${recent.map((a) => html`<li><a href="${uiHref(a.f.name, a.name)}">${a.name}</a> ${a.what} <span class="muted">(${a.f.browse.label}, ${formatTime(a.at)})</span></li>`)}</ul>`
  : html`<p class="muted">Nothing pushed or published since this server started.</p>`}</section>
<section aria-label="Traffic">${trafficCharts(traffic)}</section>`;
    sendHtml(reply, 200, page(ui.shell(v), 'Dashboard', body));
  }

  async function list(req: Req, reply: Reply, v: Viewer, f: Format): Promise<void> {
    const filter = (req.query.get('q') ?? '').slice(0, MAX_FILTER);
    const after = req.query.get('after') ?? undefined;
    const { entries, more } = await f.browse.list({ after, limit: PER_PAGE, filter });
    const rows = entries.map((e) => [{ text: e.name, href: uiHref(f.name, e.name) }, e.note ?? '']);
    const t = { caption: `${f.browse.label} ${f.browse.noun}${filter ? ` containing “${filter}”` : ''}`, columns: ['Name', 'About'], rows, ...(more && entries.length ? { next: { after: entries[entries.length - 1]!.name } } : {}) };
    const body = html`<form role="search" method="get" action="/ui/${f.name}/"><label for="filter">Filter ${f.browse.noun}</label>
<input id="filter" name="q" value="${filter}"> <button type="submit">Filter</button></form>
${table(t, `/ui/${f.name}/`, req.query)}`;
    sendHtml(reply, 200, page(ui.shell(v), `${f.browse.label} ${f.browse.noun}`, body));
  }

  async function entry(req: Req, reply: Reply, v: Viewer, f: Format, name: string): Promise<void> {
    const got = await f.browse.view(name, req.query, ctx.linkBase(req));
    if (!got) throw new HttpError('NOT_FOUND', `${f.browse.label}: no ${name}`);
    sendHtml(reply, 200, page(ui.shell(v), got.title, view(got, req.path, req.query)));
  }

  async function search(req: Req, reply: Reply, v: Viewer): Promise<void> {
    const q = (req.query.get('q') ?? '').trim().slice(0, MAX_FILTER);
    const formats = listable(v);
    const found = q ? await Promise.all(formats.map((f) => f.browse.list({ limit: SEARCH_PER_FORMAT, filter: q }))) : [];
    const body = html`<form role="search" method="get" action="/ui/search"><label for="sq">Search every format</label>
<input id="sq" name="q" value="${q}" type="search"> <button type="submit">Search</button></form>
${found.map((r, i) => {
  const f = formats[i]!;
  return html`<section aria-label="${f.browse.label} results"><h2>${f.browse.label}</h2>
${r.entries.length ? html`<ul>${r.entries.map((e) => html`<li><a href="${uiHref(f.name, e.name)}">${e.name}</a> <span class="muted">${e.note ?? ''}</span></li>`)}</ul>` : html`<p class="muted">No ${f.browse.noun} match.</p>`}
${r.more ? html`<p><a href="/ui/${f.name}/?q=${encodeURIComponent(q)}">All ${f.browse.label} matches</a></p>` : ''}</section>`;
})}`;
    sendHtml(reply, 200, page(ui.shell(v), q ? `Search: ${q}` : 'Search', body));
  }

  return { dashboard, list, entry, search, listable };
}
