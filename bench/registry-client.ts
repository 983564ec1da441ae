// The HTTP calls the bench makes to seed and push content. The same calls go to
// both servers: POST an upload session, then PUT ?digest= (monolithic) or
// PATCH a streamed body and PUT ?digest= (streamed), then PUT the manifest.
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { generatedStream, sha256 } from './content.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

export const agent = new Agent({ keepAlive: true, maxSockets: 256 });
let tlsAgent: HttpsAgent | null = null;

/** https URLs are sent trusting this CA (PEM), the bench's own. */
export function trustCa(ca: Buffer): void {
  tlsAgent?.destroy();
  tlsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 256, ca });
}

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export class HttpStatusError extends Error {
  constructor(readonly what: string, readonly status: number, body: string) {
    super(`${what} answered ${status}${body ? `: ${body.trim().slice(0, 200)}` : ''}`);
  }
}

/**
 * One request; `body` may be a Buffer or a stream, sent with the given
 * Content-Length, or with chunked transfer encoding when no length is given.
 */
export function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: Buffer | Readable,
  length?: number,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const h: Record<string, string> = { ...headers };
    if (Buffer.isBuffer(body)) h['Content-Length'] = String(body.length);
    else if (body) {
      if (length !== undefined) h['Content-Length'] = String(length);
    } else if (method !== 'GET' && method !== 'HEAD') h['Content-Length'] = '0';
    const tls = url.startsWith('https:');
    if (tls && !tlsAgent) throw new Error(`${url}: call trustCa() before https requests`);
    const req = (tls ? httpsRequest : request)(url, { method, headers: h, agent: tls ? tlsAgent! : agent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (Buffer.isBuffer(body)) req.end(body);
    else if (body) pipeline(body, req).catch(reject);
    else req.end();
  });
}

function authHeaders(auth: string | undefined): Record<string, string> {
  return auth ? { Authorization: auth } : {};
}

function expect(r: Response, what: string, ...ok: number[]): Response {
  if (!ok.includes(r.status)) throw new HttpStatusError(what, r.status, r.body.toString());
  return r;
}

function location(base: string, r: Response, what: string): URL {
  const loc = r.headers.location;
  if (!loc) throw new Error(`${what}: no Location header`);
  return new URL(loc, base);
}

async function startUpload(base: string, name: string, auth?: string): Promise<URL> {
  const what = `POST /v2/${name}/blobs/uploads/`;
  const r = expect(await send(`${base}/v2/${name}/blobs/uploads/`, 'POST', authHeaders(auth)), what, 202);
  return location(base, r, what);
}

/** POST a session, then PUT ?digest= with the whole body. */
export async function pushBlob(base: string, name: string, data: Buffer, auth?: string): Promise<string> {
  const digest = sha256(data);
  const at = await startUpload(base, name, auth);
  at.searchParams.set('digest', digest);
  const r = await send(at.href, 'PUT', { ...authHeaders(auth), 'Content-Type': 'application/octet-stream' }, data);
  expect(r, `PUT upload ?digest=`, 201);
  return digest;
}

/**
 * POST a session, PATCH a generated stream of `size` bytes, PUT ?digest= to commit.
 * The PATCH body is chunked, as docker and containerd send streamed layers.
 */
export async function pushStreamed(base: string, name: string, seed: number, size: number, digest: string, auth?: string): Promise<void> {
  const at = await startUpload(base, name, auth);
  const patched = await send(
    at.href,
    'PATCH',
    { ...authHeaders(auth), 'Content-Type': 'application/octet-stream' },
    generatedStream(seed, size),
  );
  expect(patched, 'PATCH upload', 202);
  const next = location(base, patched, 'PATCH upload');
  next.searchParams.set('digest', digest);
  expect(await send(next.href, 'PUT', authHeaders(auth)), 'PUT upload ?digest=', 201);
}

export interface Seeded {
  name: string;
  manifestPath: string;
  blobPath: string;
  layerSize: number;
  /** the layer GET was a 307 to the object store */
  redirected: boolean;
}

/** An OCI image: a config blob, one layer of `layer` bytes, a manifest tagged `tag`. */
export async function seedImage(base: string, name: string, tag: string, layer: Buffer, auth?: string): Promise<Seeded> {
  const layerDigest = await pushBlob(base, name, layer, auth);
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layerDigest] }, config: {} }),
  );
  const configDigest = await pushBlob(base, name, config, auth);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: configDigest, size: config.length },
      layers: [{ mediaType: OCI_LAYER, digest: layerDigest, size: layer.length }],
    }),
  );
  const r = await send(`${base}/v2/${name}/manifests/${tag}`, 'PUT', { ...authHeaders(auth), 'Content-Type': OCI_MANIFEST }, manifest);
  expect(r, `PUT /v2/${name}/manifests/${tag}`, 201);
  const seeded = { name, manifestPath: `/v2/${name}/manifests/${tag}`, blobPath: `/v2/${name}/blobs/${layerDigest}`, layerSize: layer.length };
  // Prove both reads work before any load is put on them.
  const m = await send(`${base}${seeded.manifestPath}`, 'GET', { ...authHeaders(auth), Accept: OCI_MANIFEST });
  expect(m, `GET ${seeded.manifestPath}`, 200);
  if (!m.body.equals(manifest)) throw new Error(`GET ${seeded.manifestPath} returned different bytes than were pushed`);
  let b = await send(`${base}${seeded.blobPath}`, 'GET', authHeaders(auth));
  // A registry that sends blob GETs to its object store: the store's URL is signed, no credentials go there.
  const redirected = b.status === 307;
  if (redirected) b = await send(String(b.headers.location), 'GET', {});
  expect(b, `GET ${seeded.blobPath}${redirected ? ' (after its 307)' : ''}`, 200);
  if (b.body.length !== layer.length || sha256(b.body) !== layerDigest) throw new Error(`GET ${seeded.blobPath} returned other bytes`);
  return { ...seeded, redirected };
}

/** POST /api/tokens (nora-ts): a read token for the bench user. */
export async function mintToken(base: string, user: string, password: string): Promise<string> {
  const body = Buffer.from(JSON.stringify({ username: user, password, role: 'read', ttl_days: 1, description: 'bench' }));
  const r = expect(await send(`${base}/api/tokens`, 'POST', { 'Content-Type': 'application/json' }, body), 'POST /api/tokens', 200);
  const token = (JSON.parse(r.body.toString()) as { token?: string }).token;
  if (!token || !token.startsWith('nra_')) throw new Error('POST /api/tokens: no nra_ token in the answer');
  return token;
}

export async function metricsText(base: string, auth?: string): Promise<string> {
  return expect(await send(`${base}/metrics`, 'GET', authHeaders(auth)), 'GET /metrics', 200).body.toString();
}

/** One Prometheus sample from /metrics text; null when the series is absent. */
export function sample(text: string, series: string): number | null {
  for (const line of text.split('\n')) {
    if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1));
  }
  return null;
}

/** Cumulative buckets (upper bound → count) of a Prometheus histogram. */
export function histogramBuckets(text: string, name: string): Map<number, number> {
  const out = new Map<number, number>();
  const prefix = `${name}_bucket{le="`;
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const end = line.indexOf('"', prefix.length);
    const le = line.slice(prefix.length, end);
    out.set(le === '+Inf' ? Infinity : Number(le), Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

/**
 * The bucket bound holding quantile q of the observations made between two
 * scrapes (so "≤ that many" seconds); null when there were none.
 */
export function quantileBetween(before: Map<number, number>, after: Map<number, number>, q: number): number | null {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  if (total <= 0) return null;
  for (const b of bounds) {
    if ((after.get(b) ?? 0) - (before.get(b) ?? 0) >= q * total) return b;
  }
  return Infinity;
}
