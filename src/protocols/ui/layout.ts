// The page shell (navigation, search box, who is signed in) and the generic
// rendering of a format's BrowseView: facts, copyable commands, tables with
// a next-page link, and the readme.
import type { Browse, BrowseTable, BrowseView, Cell } from '../../main/browse.js';
import { html, type Html } from './html.js';
import { renderMarkdown } from './readme.js';
import { ICON, SCRIPT, STYLESHEET } from './assets.js';
import type { Viewer } from './viewer.js';

export interface Format {
  name: string;
  browse: Browse;
}

export interface Shell {
  viewer: Viewer | null;
  formats: readonly Format[];
  authEnabled: boolean;
}

/** A whole page. `viewer` null: a page shown before the visitor is known (errors). */
export function page(shell: Shell, title: string, body: Html): Html {
  const v = shell.viewer;
  const listed = v ? shell.formats.filter((f) => v.may(f.name, f.browse.apiPath())) : [];
  const user = !v || !shell.authEnabled
    ? ''
    : v.session
      ? html`<span class="user"><span>Signed in as <strong>${v.session.user}</strong></span><a href="/ui/tokens">Tokens</a>
<form method="post" action="/ui/logout"><input type="hidden" name="csrf" value="${v.session.csrf}"><button type="submit" id="sign-out">Sign out</button></form></span>`
      : html`<span class="user"><a href="/ui/login">Sign in</a></span>`;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · nora-ts</title><link rel="icon" href="${ICON.path}" type="image/svg+xml"><link rel="stylesheet" href="${STYLESHEET.path}"><script src="${SCRIPT.path}" defer></script></head>
<body><a class="skip" href="#main">Skip to content</a>
<header><nav aria-label="Main"><a class="brand" href="/ui/">nora-ts</a>
${listed.map((f) => html`<a href="/ui/${f.name}/">${f.browse.label}</a> `)}
${listed.length ? html`<form role="search" action="/ui/search" method="get"><label for="q" class="skip">Search all formats</label><input id="q" name="q" type="search" placeholder="Search" aria-label="Search all formats"><button type="submit">Search</button></form>` : ''}
${user}</nav></header>
<main id="main" tabindex="-1">
<h1>${title}</h1>
${body}
</main></body></html>
`;
}

function cell(c: Cell): Html {
  if (typeof c === 'string') return html`${c}`;
  const inner = c.code ? html`<code>${c.text}</code>` : html`${c.text}`;
  // Links stay on this registry: a path, never another origin.
  return c.href && c.href.startsWith('/') && !c.href.startsWith('//') ? html`<a href="${c.href}">${inner}</a>` : inner;
}

/** The current page's URL with `params` replacing its own (a next-page link). */
function withParams(path: string, query: URLSearchParams, params: Record<string, string>): string {
  const q = new URLSearchParams(query);
  for (const [k, v] of Object.entries(params)) q.set(k, v);
  return `${path}?${q.toString()}`;
}

export function table(t: BrowseTable, path: string, query: URLSearchParams): Html {
  return html`<table><caption>${t.caption}</caption>
<thead><tr>${t.columns.map((c) => html`<th scope="col">${c}</th>`)}</tr></thead>
<tbody>${t.rows.length ? t.rows.map((r) => html`<tr>${r.map((c) => html`<td>${cell(c)}</td>`)}</tr>`) : html`<tr><td colspan="${t.columns.length}" class="muted">None</td></tr>`}</tbody></table>
${t.next ? html`<p class="pager"><a href="${withParams(path, query, t.next)}" rel="next">Next page</a></p>` : ''}`;
}

let commandIds = 0;

export function commands(list: BrowseView['commands']): Html {
  return html`${list.map((c) => {
    const id = `cmd${++commandIds % 1_000_000}`;
    return html`<div class="cmd"><label for="${id}">${c.label}</label><input id="${id}" readonly value="${c.text}"><button type="button" data-copy="${id}" aria-label="Copy ${c.label} command">Copy</button></div>`;
  })}`;
}

export function facts(list: BrowseView['facts']): Html {
  return html`<dl>${list.map(([k, v]) => html`<dt>${k}</dt><dd>${cell(v)}</dd>`)}</dl>`;
}

export function view(v: BrowseView, path: string, query: URLSearchParams): Html {
  return html`${facts(v.facts)}
${v.commands.length ? html`<h2>Use it</h2>${commands(v.commands)}` : ''}
${v.tables.map((t) => table(t, path, query))}
${v.readme ? html`<section class="readme" aria-label="Readme"><h2>Readme</h2>${v.readme.markdown ? renderMarkdown(v.readme.text) : html`<pre>${v.readme.text}</pre>`}</section>` : ''}`;
}
