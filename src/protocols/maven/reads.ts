// GET/HEAD under /maven2/: deployed files streamed from the blob store with
// ETag, Last-Modified and Range (serve-object.ts); their checksums from the
// version document; maven-metadata.xml rendered from the stored documents,
// its checksums hashed from the very bytes served.
import { createHash } from 'node:crypto';
import type { Context } from '../../main/protocol.js';
import { sendMemoryResponse, type Reply, type Req } from '../../main/http/types.js';
import { serveObject } from '../../main/http/serve-object.js';
import { answerOf, respond } from '../../main/http/answer-cache.js';
import { HttpError } from '../../main/errors.js';
import { type Checksum, type MavenPath, coordinates, isSnapshot, snapshotBuild } from './paths.js';
import type { MavenContent } from './content.js';
import { artifactMetadata, versionMetadata } from './metadata.js';

const TEXT = 'text/plain; charset=utf-8';

function contentType(file: string): string {
  if (file.endsWith('.pom') || file.endsWith('.xml')) return 'application/xml';
  if (file.endsWith('.jar')) return 'application/java-archive';
  return 'application/octet-stream';
}

const httpDate = (ms: number) => new Date(ms).toUTCString();
const hex = (alg: Checksum, data: string) => createHash(alg).update(data).digest('hex');
const notFound = (what: string) => new HttpError('NOT_FOUND', `${what} not found`);

export function createReads(ctx: Context, content: MavenContent) {
  const scope = ctx.config.auth.enabled && !ctx.config.auth.anonymous_read ? 'private' : 'public';
  const IMMUTABLE = `${scope}, max-age=31536000, immutable`;
  const REVALIDATE = `${scope}, no-cache`;

  /** A small answer held in memory: 200, or 304 when If-None-Match names its ETag. */
  function small(req: Req, reply: Reply, body: string, type: string, modified: number, cacheControl: string): void {
    const etag = `"${hex('sha256', body)}"`;
    const headers: [string, string][] = [
      ['Content-Type', type],
      ['ETag', etag],
      ['Last-Modified', httpDate(modified)],
      ['Cache-Control', cacheControl],
    ];
    sendMemoryResponse(reply, respond(answerOf(etag, headers, body, (k) => k !== 'Content-Type'), req));
  }

  async function metadata(req: Req, reply: Reply, p: Exclude<MavenPath, { kind: 'file' }>): Promise<void> {
    let xml: string;
    let modified: number;
    if (p.kind === 'artifact-metadata') {
      const doc = await content.artifact(p);
      if (!doc) throw notFound(`metadata of ${coordinates(p)}`);
      xml = artifactMetadata(doc);
      modified = doc.lastUpdated;
    } else {
      const doc = await content.version(p, p.version);
      if (!doc) throw notFound(`metadata of ${coordinates(p)}:${p.version}`);
      xml = versionMetadata(doc);
      modified = Math.max(0, ...Object.values(doc.files).map((f) => f.modified));
    }
    if (p.checksum) small(req, reply, hex(p.checksum, xml), TEXT, modified, REVALIDATE);
    else small(req, reply, xml, 'application/xml', modified, REVALIDATE);
  }

  async function file(req: Req, reply: Reply, p: Extract<MavenPath, { kind: 'file' }>): Promise<void> {
    const doc = await content.version(p, p.version);
    const rec = doc && Object.hasOwn(doc.files, p.file) ? doc.files[p.file]! : null;
    if (!rec) throw notFound(`${p.file}${p.checksum ? `.${p.checksum}` : ''}`);
    // Releases and timestamped SNAPSHOT builds never change; a plain <artifact>-<x>-SNAPSHOT file may be redeployed.
    const mutable = isSnapshot(p.version) && !snapshotBuild(p.file, p.artifact, p.version);
    const cacheControl = mutable ? REVALIDATE : IMMUTABLE;
    if (p.checksum) return small(req, reply, rec[p.checksum], TEXT, rec.modified, cacheControl);
    const reader = await content.open(p, p.version, rec);
    if (!reader) throw notFound(p.file);
    reply.header('Last-Modified', httpDate(rec.modified));
    await serveObject(req, reply, reader, { contentType: contentType(p.file), etag: `"${rec.sha256}"`, cacheControl });
  }

  return {
    get(req: Req, reply: Reply, p: MavenPath): Promise<void> {
      return p.kind === 'file' ? file(req, reply, p) : metadata(req, reply, p);
    },
  };
}
