// A small Docker token server on 127.0.0.1 (none is packaged): ES256 JWTs
// with the certificate in x5c, the form CNCF distribution's auth.token
// verifies against its rootcertbundle. One user may pull and push; anonymous
// callers get a token with no access. It records each request: whether it
// carried credentials, and the scopes asked for.
import http from 'node:http';
import { createPrivateKey, randomUUID, sign, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';

export interface TokenServer {
  url: string;
  port: number;
  service: string;
  issuer: string;
  /** PEM file for distribution's rootcertbundle */
  certFile: string;
  requests: { authorized: boolean; scopes: string[] }[];
  /** expires_in sent with each token */
  expiresIn: number;
  close(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export async function startTokenServer(dir: string, user: string, password: string): Promise<TokenServer> {
  const keyFile = join(dir, 'token.key');
  const certFile = join(dir, 'token.crt');
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile], { stdio: 'pipe' });
  execFileSync('openssl', ['req', '-x509', '-new', '-key', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=nora-test-token'], { stdio: 'pipe' });
  const key = createPrivateKey(await readFile(keyFile));
  const certDer = new X509Certificate(await readFile(certFile)).raw;
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const state = { requests: [] as TokenServer['requests'], expiresIn: 300 };
  const service = 'nora-test-registry';
  const issuer = 'nora-test-issuer';
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const scopes = u.searchParams.getAll('scope');
    const authorized = req.headers.authorization === expected;
    state.requests.push({ authorized: req.headers.authorization !== undefined, scopes });
    if (req.headers.authorization !== undefined && !authorized) {
      res.writeHead(401).end();
      return;
    }
    const access = authorized
      ? scopes.flatMap((s) => {
          const [type, name] = s.split(':');
          return type && name ? [{ type, name, actions: ['pull', 'push'] }] : [];
        })
      : [];
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'ES256', typ: 'JWT', x5c: [certDer.toString('base64')] };
    const claims = { iss: issuer, sub: authorized ? user : '', aud: service, exp: now + state.expiresIn, nbf: now - 10, iat: now, jti: randomUUID(), access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token: `${input}.${b64url(sig)}`, expires_in: state.expiresIn, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    port,
    service,
    issuer,
    certFile,
    close: () => new Promise<void>((r) => server.close(() => r())),
  });
}

/** distribution's auth section for this token server, with the realm at `realmHost`. */
export function tokenAuthYaml(ts: TokenServer, realmHost = '127.0.0.1'): string {
  return `auth:\n  token:\n    realm: http://${realmHost}:${ts.port}/token\n    service: ${ts.service}\n    issuer: ${ts.issuer}\n    rootcertbundle: ${ts.certFile}\n`;
}
