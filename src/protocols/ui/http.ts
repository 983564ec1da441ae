// What every UI answer shares: security headers (a CSP allowing only this
// registry's own stylesheet and script, no inline code, no framing), cookies,
// and form bodies.
import { timingSafeEqual } from 'node:crypto';
import type { Reply, Req } from '../../main/http/types.js';
import { HttpError } from '../../main/errors.js';
import type { Html } from './html.js';

const FORM_LIMIT = 16 * 1024;

export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export function securityHeaders(reply: Reply): Reply {
  return reply
    .header('Content-Security-Policy', CSP)
    .header('X-Content-Type-Options', 'nosniff')
    .header('X-Frame-Options', 'DENY')
    .header('Referrer-Policy', 'same-origin');
}

/** A page; `setCookie` is at most one cookie (Reply keeps one value per header name). */
export function sendHtml(reply: Reply, status: number, page: Html, setCookie?: string): void {
  securityHeaders(reply).status(status).header('Content-Type', 'text/html; charset=utf-8').header('Cache-Control', 'no-store');
  if (setCookie) reply.header('Set-Cookie', setCookie);
  reply.send(page.text);
}

export function redirect(reply: Reply, location: string, setCookie?: string): void {
  securityHeaders(reply).status(303).header('Location', location).header('Cache-Control', 'no-store');
  if (setCookie) reply.header('Set-Cookie', setCookie);
  reply.send();
}

export function cookie(req: Req, name: string): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** A cookie only this registry's UI pages get, never script, never another site's request. */
export function setCookie(name: string, value: string, maxAgeSecs: number, secure: boolean): string {
  return `${name}=${value}; Path=/ui; Max-Age=${maxAgeSecs}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** An application/x-www-form-urlencoded body (what the UI's forms post). */
export async function readForm(req: Req): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new HttpError('UNSUPPORTED_MEDIA_TYPE', 'forms must be sent as application/x-www-form-urlencoded');
  return new URLSearchParams((await req.readBody(FORM_LIMIT)).toString('utf8'));
}

/** Compares secrets in constant time. */
export function sameSecret(a: string | null | undefined, b: string | null | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Refuses a state-changing request that is not from this UI's own form: the
 * form's CSRF field must match the secret the server gave (the session's, or
 * the sign-in cookie's), and a browser's Sec-Fetch-Site must not say another site.
 */
export function checkCsrf(req: Req, form: URLSearchParams, expected: string | undefined): void {
  const site = req.headers['sec-fetch-site'];
  if ((site !== undefined && site !== 'same-origin' && site !== 'none') || !sameSecret(form.get('csrf'), expected)) {
    throw new HttpError('DENIED', 'this form has expired or did not come from this registry (CSRF check failed); reload the page and try again');
  }
}
