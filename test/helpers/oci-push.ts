// Pushes blobs and manifests to a running registry over real HTTP, for the
// manifest, tag, catalog and referrer tests.
import { digestOf, parseDigest } from '../../src/main/digest.js';
import { layerLinkKey } from '../../src/protocols/docker/layout.js';
import type { Running } from './registry.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface Desc {
  mediaType: string;
  digest: string;
  size: number;
}

/**
 * Puts a blob into repository `name`. Uses the real upload API (single POST
 * with ?digest=, or POST then PUT); while uploads answer 405 (not built yet) it
 * places the blob the way an upload does: blob store plus the repository link.
 */
export async function pushBlob(r: Running, name: string, data: Buffer | string, mediaType = OCI_LAYER): Promise<Desc> {
  const buf = Buffer.from(data);
  const digest = digestOf(buf);
  const res = await fetch(`${r.url}/v2/${name}/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    body: buf,
    headers: { 'content-type': 'application/octet-stream' },
  });
  await res.arrayBuffer();
  if (res.status === 202) {
    const loc = new URL(res.headers.get('location')!, r.url);
    loc.searchParams.set('digest', digest);
    const put = await fetch(loc, { method: 'PUT', body: buf, headers: { 'content-type': 'application/octet-stream' } });
    await put.arrayBuffer();
    if (put.status !== 201) throw new Error(`blob PUT failed: ${put.status}`);
  } else if (res.status === 405) {
    const d = parseDigest(digest)!;
    await r.registry.ctx.blobs.putBuffer(buf, d);
    await r.registry.ctx.storage.put(layerLinkKey(name, d), '');
  } else if (res.status !== 201) {
    throw new Error(`blob upload failed: ${res.status}`);
  }
  return { mediaType, digest, size: buf.length };
}

export function putManifest(r: Running, name: string, ref: string, body: Buffer | string | object, contentType?: string): Promise<Response> {
  const bytes = Buffer.isBuffer(body) || typeof body === 'string' ? Buffer.from(body) : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = {};
  if (contentType !== undefined) headers['content-type'] = contentType;
  return fetch(`${r.url}/v2/${name}/manifests/${ref}`, { method: 'PUT', body: bytes, headers });
}

export interface Pushed {
  doc: Record<string, unknown>;
  bytes: Buffer;
  digest: string;
  size: number;
  mediaType: string;
}

/** Builds manifest bytes and its descriptor fields. */
export function encode(doc: Record<string, unknown>, mediaType: string): Pushed {
  const bytes = Buffer.from(JSON.stringify(doc, null, 2));
  return { doc, bytes, digest: digestOf(bytes), size: bytes.length, mediaType };
}

/** Pushes a config and `layers` small layers, then an image manifest (OCI or Docker) under `ref`. */
export async function pushImage(
  r: Running,
  name: string,
  ref: string,
  opts: { mediaType?: string; layers?: number; seed?: string; extra?: Record<string, unknown>; configMediaType?: string } = {},
): Promise<Pushed> {
  const mediaType = opts.mediaType ?? OCI_MANIFEST;
  const docker = mediaType === DOCKER_MANIFEST;
  const seed = opts.seed ?? `${name}:${ref}:${Math.random()}`;
  const config = await pushBlob(
    r,
    name,
    JSON.stringify({ architecture: 'amd64', os: 'linux', seed }),
    opts.configMediaType ?? (docker ? 'application/vnd.docker.container.image.v1+json' : OCI_CONFIG),
  );
  const layers: Desc[] = [];
  for (let i = 0; i < (opts.layers ?? 1); i++) {
    layers.push(await pushBlob(r, name, `layer ${i} of ${seed}`, docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : OCI_LAYER));
  }
  const m = encode({ schemaVersion: 2, mediaType, config, layers, ...opts.extra }, mediaType);
  const res = await putManifest(r, name, ref, m.bytes, mediaType);
  const text = await res.text();
  if (res.status !== 201) throw new Error(`manifest push failed: ${res.status} ${text}`);
  return m;
}

/** Pushes an index or manifest list over already pushed manifests. */
export async function pushIndex(r: Running, name: string, ref: string, children: Pushed[], mediaType = OCI_INDEX, extra: Record<string, unknown> = {}): Promise<Pushed> {
  const manifests = children.map((c, i) => ({
    mediaType: c.mediaType,
    digest: c.digest,
    size: c.size,
    platform: { architecture: i % 2 ? 'arm64' : 'amd64', os: 'linux' },
  }));
  const m = encode({ schemaVersion: 2, mediaType, manifests, ...extra }, mediaType);
  const res = await putManifest(r, name, ref, m.bytes, mediaType);
  const text = await res.text();
  if (res.status !== 201) throw new Error(`index push failed: ${res.status} ${text}`);
  return m;
}

export async function errorCode(res: Response): Promise<{ code: string; detail: unknown; message: string }> {
  const body = (await res.json()) as { errors: { code: string; detail: unknown; message: string }[] };
  return body.errors[0]!;
}
