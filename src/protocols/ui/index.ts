// The web UI under /ui/: server-rendered pages over every format that has a
// Browse (its pages' data), sign-in sessions and token management. A browser
// asking for / (and no format owning the request) is sent to /ui/. The gate
// lets every UI request through (public): each page decides from the
// visitor's session with the same policy as the API it mirrors (viewer.ts),
// sending anonymous visitors to sign in and refusing the rest with 403.
import type { Context, Protocol } from '../../main/protocol.js';
import type { Req, Reply } from '../../main/http/types.js';
import type { Requirement } from '../../main/auth/types.js';
import { HttpError, methodNotAllowed } from '../../main/errors.js';
import { html } from './html.js';
import { redirect, securityHeaders, sendHtml } from './http.js';
import { page, type Format } from './layout.js';
import { ASSETS } from './assets.js';
import { Sessions } from './sessions.js';
import { viewerOf, type Viewer } from './viewer.js';
import { createAccount } from './account.js';
import { createPages } from './pages.js';
import { Traffic } from './traffic.js';
import type { Ui } from './ui.js';

const PUBLIC: Requirement = { access: 'public' };

const isRead = (m: string) => m === 'GET' || m === 'HEAD';

/** A browser's request for the root: HTML wanted, no format claimed it. */
function wantsHtml(req: Req): boolean {
  return req.path === '/' && isRead(req.method) && (req.headers.accept ?? '').includes('text/html');
}

function segments(path: string): string[] {
  try {
    return path.slice('/ui/'.length).split('/').map(decodeURIComponent);
  } catch {
    throw new HttpError('BAD_REQUEST', 'malformed percent-encoding in path');
  }
}

/** `protocols` is the registry's list, read when a page is drawn (formats registered after the UI count too). */
export function uiProtocol(ctx: Context, protocols: readonly Protocol[]): Protocol {
  const sessions = new Sessions(ctx.storage, ctx.log);
  const traffic = new Traffic(ctx.metrics);
  let formats: Format[] | null = null;
  const ui: Ui = {
    ctx,
    sessions,
    formats: () => (formats ??= protocols.flatMap((p) => (p.browse ? [{ name: p.name, browse: p.browse }] : []))),
    shell: (viewer) => ({ viewer, formats: ui.formats(), authEnabled: ctx.gate.enabled }),
    secure: (req) => ctx.linkBase(req).startsWith('https:'),
  };
  const account = createAccount(ui);
  const pages = createPages(ui, traffic);

  /** Anonymous visitors are sent to sign in (when there is a sign-in); signed-in ones refused. */
  function deny(req: Req, reply: Reply, v: Viewer): void {
    if (ctx.gate.enabled && v.session === null && isRead(req.method)) {
      const here = req.rawQuery ? `${req.path}?${req.rawQuery}` : req.path;
      return redirect(reply, `/ui/login?next=${encodeURIComponent(here)}`);
    }
    throw new HttpError('DENIED', 'you may not see this page');
  }

  function asset(req: Req, reply: Reply): void {
    const a = ASSETS.get(req.path);
    if (!a) throw new HttpError('NOT_FOUND');
    if (!isRead(req.method)) throw methodNotAllowed('GET, HEAD');
    securityHeaders(reply).header('Content-Type', a.type).header('Cache-Control', 'public, max-age=31536000, immutable').header('ETag', a.etag);
    if (req.headers['if-none-match'] === a.etag) return reply.status(304).send();
    reply.status(200).send(a.body);
  }

  async function route(req: Req, reply: Reply): Promise<void> {
    if (req.path === '/' || req.path === '/ui') {
      if (!isRead(req.method)) throw methodNotAllowed('GET, HEAD');
      return redirect(reply, '/ui/');
    }
    if (req.path.startsWith('/ui/assets/')) return asset(req, reply);
    const v = await viewerOf(ctx, sessions, req);
    req.identity = v.identity;
    const segs = segments(req.path);
    const head = segs[0]!;
    if (head === 'login') return account.signIn(req, reply, v);
    if (head === 'logout') return account.signOut(req, reply, v);
    if (head === 'tokens' && segs.length === 1) return account.tokensRoute(req, reply, v);
    if (head === 'tokens' && segs[1] === 'revoke' && segs.length === 2) return account.revokeRoute(req, reply, v);
    if (!isRead(req.method)) throw methodNotAllowed('GET, HEAD');
    if (head === '' && segs.length === 1) return pages.listable(v).length ? pages.dashboard(req, reply, v) : deny(req, reply, v);
    if (head === 'search' && segs.length === 1) return pages.listable(v).length ? pages.search(req, reply, v) : deny(req, reply, v);
    const f = ui.formats().find((x) => x.name === head);
    if (!f) throw new HttpError('NOT_FOUND', 'no such page');
    if (segs.length === 1) return redirect(reply, `/ui/${f.name}/`);
    const name = segs.slice(1).join('/');
    if (name === '') return v.may(f.name, f.browse.apiPath()) ? pages.list(req, reply, v, f) : deny(req, reply, v);
    return v.may(f.name, f.browse.apiPath(name)) ? pages.entry(req, reply, v, f, name) : deny(req, reply, v);
  }

  return {
    name: 'ui',
    matches: (p) => p === '/ui' || p.startsWith('/ui/'),
    claims: wantsHtml,
    access: () => PUBLIC,
    handle: route,
    error(reply, e) {
      const body = html`<p class="error" role="alert">${e.message}</p><p><a href="/ui/">Back to the dashboard</a></p>`;
      sendHtml(reply, e.status, page(ui.shell(null), `${e.status} ${e.status === 404 ? 'Not found' : e.status === 403 ? 'Refused' : 'Error'}`, body));
    },
    close: async () => traffic.close(),
  };
}
