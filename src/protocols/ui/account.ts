// Signing in and out, and the signed-in user's API tokens. The password is
// checked by the token service's login (the same hash pool, credential cache
// and lockout as the token API; an API token is refused as a password), and
// tokens are created, listed and revoked through the same service as
// /api/tokens, with its role rules (admin tokens only for admin_users).
// Every POST carries a CSRF token: the sign-in form the one in its
// short-lived cookie, every later form the session's.
import type { Req, Reply } from '../../main/http/types.js';
import { HttpError } from '../../main/errors.js';
import { formatTime } from '../../main/browse.js';
import { prefixField, roleField, stringField, ttlField, type Body } from '../../main/auth/token-api.js';
import type { TokenService } from '../../main/auth/token-service.js';
import { html, type Html } from './html.js';
import { checkCsrf, cookie, readForm, redirect, sendHtml, setCookie } from './http.js';
import { page } from './layout.js';
import { randomSecret, SESSION_TTL_MS } from './sessions.js';
import { SESSION_COOKIE, type Viewer } from './viewer.js';
import type { Ui } from './ui.js';

const LOGIN_COOKIE = 'nora_login';
const LOGIN_COOKIE_SECS = 3600;

/** Where to go after signing in: a UI path only (never another site). */
export function safeNext(next: string | null): string {
  return next && next.startsWith('/ui/') && !next.startsWith('//') && !/[\\\s]/.test(next) ? next : '/ui/';
}

function tokens(ui: Ui): TokenService {
  const svc = ui.ctx.gate.tokens;
  if (!svc) throw new HttpError('NOT_FOUND', 'authentication is off (auth.enabled = false): there is nothing to sign in to');
  return svc;
}

export function createAccount(ui: Ui) {
  function loginPage(req: Req, reply: Reply, viewer: Viewer, status: number, message: string, secret: string, next: string, fresh: boolean): void {
    const body = html`${message ? html`<p class="error" role="alert">${message}</p>` : ''}
<form class="stack" method="post" action="/ui/login">
<input type="hidden" name="csrf" value="${secret}"><input type="hidden" name="next" value="${next}">
<label for="username">Username</label><input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form>
<p class="muted">Your htpasswd user and password. API tokens are not accepted here.</p>`;
    sendHtml(reply, status, page(ui.shell(viewer), 'Sign in', body), fresh ? setCookie(LOGIN_COOKIE, secret, LOGIN_COOKIE_SECS, ui.secure(req)) : undefined);
  }

  async function signIn(req: Req, reply: Reply, viewer: Viewer): Promise<void> {
    const svc = tokens(ui);
    const existing = cookie(req, LOGIN_COOKIE);
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (viewer.session) return redirect(reply, safeNext(req.query.get('next')));
      const fresh = existing === undefined || !/^[A-Za-z0-9_-]{43}$/.test(existing);
      return loginPage(req, reply, viewer, 200, '', fresh ? randomSecret() : existing, safeNext(req.query.get('next')), fresh);
    }
    const form = await readForm(req);
    checkCsrf(req, form, existing);
    const next = safeNext(form.get('next'));
    const username = form.get('username') ?? '';
    const password = form.get('password') ?? '';
    let caller;
    try {
      if (username === '' || password === '' || username.length > 256 || password.length > 1024) throw new HttpError('UNAUTHORIZED', 'invalid credentials');
      caller = await svc.login(username, password, req.clientIp);
    } catch (e) {
      if (!(e instanceof HttpError) || (e.status !== 401 && e.status !== 429)) throw e;
      if (e.headers?.['Retry-After']) reply.header('Retry-After', e.headers['Retry-After']);
      const message = e.status === 429 ? e.message : 'Invalid username or password.';
      return loginPage(req, reply, viewer, e.status, message, existing!, next, false);
    }
    const stamp = svc.passwordStamp(caller.user);
    if (stamp === null) throw new HttpError('UNAUTHORIZED', 'invalid credentials'); // removed meanwhile
    const { id } = await ui.sessions.create(caller.user, caller.admin, stamp);
    ui.ctx.log.info('ui sign-in', { event: 'ui_login', user: caller.user, ip: req.clientIp });
    req.identity = { user: caller.user, role: 'write', via: 'htpasswd' };
    redirect(reply, next, setCookie(SESSION_COOKIE, id, SESSION_TTL_MS / 1000, ui.secure(req)));
  }

  async function signOut(req: Req, reply: Reply, viewer: Viewer): Promise<void> {
    if (req.method !== 'POST') throw new HttpError('METHOD_NOT_ALLOWED', 'sign out with the button (POST)', { headers: { Allow: 'POST' } });
    const form = await readForm(req);
    checkCsrf(req, form, viewer.session?.csrf);
    await ui.sessions.end(viewer.session!.id);
    ui.ctx.log.info('ui sign-out', { event: 'ui_logout', user: viewer.session!.user, ip: req.clientIp });
    redirect(reply, '/ui/login', setCookie(SESSION_COOKIE, '', 0, ui.secure(req)));
  }

  async function tokenPage(req: Req, reply: Reply, viewer: Viewer, status: number, created: { token: string; days: number } | null, error: string): Promise<void> {
    const svc = tokens(ui);
    const s = viewer.session!;
    const caller = { user: s.user, admin: s.admin };
    const { tokens: list } = await svc.list(caller, req.clientIp);
    const hidden = html`<input type="hidden" name="csrf" value="${s.csrf}">`;
    const roles = s.admin ? ['read', 'write', 'admin'] : ['read', 'write'];
    const fresh: Html | '' = created
      ? html`<section class="secret" aria-labelledby="new-token"><h2 id="new-token">New token</h2>
<p>Copy it now: it is shown only once. It expires in ${created.days} days.</p>
<div class="cmd"><label for="token">Token</label><input id="token" readonly value="${created.token}"><button type="button" data-copy="token" aria-label="Copy the new token">Copy</button></div></section>`
      : '';
    const rows = list.map((t) => html`<tr><td><code>${t.hash_prefix}</code></td>${s.admin ? html`<td>${t.user ?? ''}</td>` : ''}<td>${t.description ?? ''}</td><td>${t.role}</td>
<td>${formatTime(t.created_at * 1000)}</td><td>${formatTime(t.expires_at * 1000)}</td><td>${t.last_used ? formatTime(t.last_used * 1000) : 'never'}</td>
<td><form method="post" action="/ui/tokens/revoke">${hidden}<input type="hidden" name="hash_prefix" value="${t.hash_prefix}"><button type="submit" aria-label="Revoke token ${t.hash_prefix}">Revoke</button></form></td></tr>`);
    const body = html`${error ? html`<p class="error" role="alert">${error}</p>` : ''}${fresh}
<h2>Create a token</h2>
<form class="stack" method="post" action="/ui/tokens">${hidden}
<label for="description">Description</label><input id="description" name="description" maxlength="1000" placeholder="CI/CD pipeline">
<label for="role">Role</label><select id="role" name="role">${roles.map((r) => html`<option value="${r}"${r === 'read' ? html` selected` : ''}>${r}</option>`)}</select>
<label for="ttl_days">Expires after (days)</label><input id="ttl_days" name="ttl_days" type="number" min="1" max="3650" value="30" required>
<button type="submit" id="create-token">Create token</button></form>
<h2>${s.admin ? 'All tokens' : 'Your tokens'}</h2>
<table><caption class="skip">API tokens</caption><thead><tr><th scope="col">Id</th>${s.admin ? html`<th scope="col">User</th>` : ''}<th scope="col">Description</th><th scope="col">Role</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col"><span class="skip">Actions</span></th></tr></thead>
<tbody>${list.length ? rows : html`<tr><td colspan="${s.admin ? 8 : 7}" class="muted">No tokens yet</td></tr>`}</tbody></table>`;
    sendHtml(reply, status, page(ui.shell(viewer), 'API tokens', body));
  }

  /** GET shows, POST creates (the page then shows the token once). */
  async function tokensRoute(req: Req, reply: Reply, viewer: Viewer): Promise<void> {
    const svc = tokens(ui);
    if (!viewer.session) return redirect(reply, `/ui/login?next=${encodeURIComponent('/ui/tokens')}`);
    if (req.method === 'GET' || req.method === 'HEAD') return tokenPage(req, reply, viewer, 200, null, '');
    const form = await readForm(req);
    checkCsrf(req, form, viewer.session.csrf);
    const body: Body = {
      role: form.get('role') ?? undefined,
      ttl_days: form.get('ttl_days') ? Number(form.get('ttl_days')) : undefined,
      description: form.get('description') || null,
    };
    let role, days, description;
    try {
      role = roleField(body);
      days = ttlField(body);
      description = stringField(body, 'description', 1000, false);
    } catch (e) {
      if (e instanceof HttpError) return tokenPage(req, reply, viewer, e.status, null, e.message);
      throw e;
    }
    const s = viewer.session;
    try {
      const made = await svc.create({ user: s.user, admin: s.admin }, role, days, description, req.clientIp);
      return tokenPage(req, reply, viewer, 201, { token: made.token, days: made.expires_in_days }, '');
    } catch (e) {
      if (e instanceof HttpError && e.status === 403) return tokenPage(req, reply, viewer, 403, null, e.message);
      throw e;
    }
  }

  async function revokeRoute(req: Req, reply: Reply, viewer: Viewer): Promise<void> {
    const svc = tokens(ui);
    if (req.method !== 'POST') throw new HttpError('METHOD_NOT_ALLOWED', undefined, { headers: { Allow: 'POST' } });
    if (!viewer.session) return redirect(reply, `/ui/login?next=${encodeURIComponent('/ui/tokens')}`);
    const form = await readForm(req);
    checkCsrf(req, form, viewer.session.csrf);
    const s = viewer.session;
    try {
      await svc.revoke({ user: s.user, admin: s.admin }, prefixField({ hash_prefix: form.get('hash_prefix') ?? '' }), req.clientIp);
    } catch (e) {
      if (e instanceof HttpError && e.status < 500) return tokenPage(req, reply, viewer, e.status, null, e.message);
      throw e;
    }
    redirect(reply, '/ui/tokens');
  }

  return { signIn, signOut, tokensRoute, revokeRoute };
}
