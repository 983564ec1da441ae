// A local OIDC issuer for the workload-identity tests: a real HTTP server on
// 127.0.0.1 serving a discovery document and a JWKS, minting RS256/ES256
// tokens shaped like GitHub Actions' and GitLab CI's. It can rotate keys, go
// down (503), and counts the JWKS requests it answered.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type JWK, type JWTPayload } from 'jose';

type Alg = 'RS256' | 'ES256';
interface SigningKey {
  kid: string;
  alg: Alg;
  privateKey: CryptoKey;
  jwk: JWK;
}

export interface MintOptions {
  alg?: Alg;
  /** sign with a key the JWKS does not publish */
  unpublished?: boolean;
  kid?: string;
  aud?: string;
  iss?: string;
  /** seconds from now */
  exp?: number;
  /** seconds from now (negative = in the past) */
  iat?: number;
}

export class Issuer {
  private readonly keys: SigningKey[] = [];
  private readonly hidden: SigningKey[] = [];
  down = false;
  /** true: requests are accepted and never answered (a hung issuer) */
  hang = false;
  jwksRequests = 0;
  discoveryRequests = 0;
  url = '';

  private constructor(
    private readonly server: Server,
    /** where the JWKS is served (GitLab's is not at the default path) */
    readonly jwksPath: string,
  ) {}

  static async start(jwksPath = '/.well-known/jwks'): Promise<Issuer> {
    const server = createServer();
    const issuer = new Issuer(server, jwksPath);
    server.on('request', (req, res) => {
      if (issuer.hang) return;
      if (issuer.down) {
        res.writeHead(503).end('down');
        return;
      }
      if (req.url === '/.well-known/openid-configuration') {
        issuer.discoveryRequests++;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: issuer.url, jwks_uri: issuer.url + jwksPath }));
      } else if (req.url === jwksPath) {
        issuer.jwksRequests++;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: issuer.keys.map((k) => k.jwk) }));
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    issuer.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await issuer.addKey('RS256');
    await issuer.addKey('ES256');
    return issuer;
  }

  /** Publishes a new key (a rotation); returns its kid. */
  async addKey(alg: Alg, publish = true): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const kid = randomUUID();
    const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
    (publish ? this.keys : this.hidden).push({ kid, alg, privateKey, jwk });
    return kid;
  }

  private key(alg: Alg, unpublished: boolean): SigningKey {
    const k = [...(unpublished ? this.hidden : this.keys)].reverse().find((x) => x.alg === alg);
    if (!k) throw new Error(`no ${alg} key${unpublished ? ' (unpublished)' : ''}`);
    return k;
  }

  async mint(claims: JWTPayload, o: MintOptions = {}): Promise<string> {
    const alg = o.alg ?? 'RS256';
    if (o.unpublished && !this.hidden.some((k) => k.alg === alg)) await this.addKey(alg, false);
    const k = this.key(alg, o.unpublished ?? false);
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ jti: randomUUID(), ...claims })
      .setProtectedHeader({ alg, kid: o.kid ?? k.kid, typ: 'JWT' })
      .setIssuer(o.iss ?? this.url)
      .setAudience(o.aud ?? 'nora-test')
      .setIssuedAt(now + (o.iat ?? 0))
      .setNotBefore(now + (o.iat ?? 0))
      .setExpirationTime(now + (o.exp ?? 300))
      .sign(k.privateKey);
  }

  /** A GitHub Actions job token (claims as token.actions.githubusercontent.com sets them). */
  github(repository: string, ref = 'refs/heads/main', workflow = 'release', o: MintOptions = {}): Promise<string> {
    const [owner] = repository.split('/');
    return this.mint(
      {
        sub: `repo:${repository}:ref:${ref}`,
        repository,
        repository_owner: owner,
        ref,
        ref_type: 'branch',
        workflow,
        event_name: 'push',
        actor: 'octocat',
        run_id: '1',
      },
      o,
    );
  }

  /** A GitLab CI job token (CI_JOB_JWT_V2 / id_tokens claims). */
  gitlab(projectPath: string, ref = 'main', o: MintOptions = {}): Promise<string> {
    return this.mint(
      {
        sub: `project_path:${projectPath}:ref_type:branch:ref:${ref}`,
        project_path: projectPath,
        namespace_path: projectPath.split('/')[0],
        ref,
        ref_type: 'branch',
        ref_protected: 'true',
        pipeline_source: 'push',
        user_login: 'gitlab-user',
      },
      o,
    );
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** A token no verifier may accept: HS256 over a shared secret, or `alg: none`. */
export async function unsignedOrSymmetric(issuer: string, alg: 'HS256' | 'none', claims: JWTPayload): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: issuer, aud: 'nora-test', iat: now, exp: now + 300, ...claims };
  if (alg === 'none') {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`;
  }
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode('a-shared-secret-of-32-bytes-long!'));
}
