// /v2/<name>/manifests/<reference>: push, pull, check and delete manifests by
// tag or digest.
import { BodyTooLarge, sendMemoryResponse, type MemoryResponse, type ReadView, type Reply, type Req } from '../../main/http/types.js';
import { digestOf, type Digest } from '../../main/digest.js';
import { oci } from './errors.js';
import { methodNotAllowed } from '../../main/errors.js';
import { checkDigest, parseReference, readReference, type Reference } from './names.js';
import { OCI_INDEX, OCI_MANIFEST, isManifestType, metaOf, parseManifest, referrerDescriptor, type Descriptor, type ParsedManifest } from './manifest-parse.js';
import { mapLimit, type ManifestStore } from './manifest-store.js';
import type { DockerContent } from './content.js';

export const STALE_WARNING = '110 nora-ts "Response is Stale"';

/** Largest manifest accepted; the spec asks registries to take at least 4 MB. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/**
 * Whether a stored manifest may be served to a client sending `accept`. Like
 * CNCF distribution, OCI types are withheld from a client that lists types but
 * not them (it could not read them); Docker types are always served. No Accept,
 * a wildcard or application/json accepts anything.
 */
export function acceptable(accept: string | undefined, mediaType: string): boolean {
  if (mediaType !== OCI_MANIFEST && mediaType !== OCI_INDEX) return true;
  if (!accept || accept.trim() === '') return true;
  // A fleet sends a handful of distinct Accept values: parse each once.
  const memo = mediaType === OCI_MANIFEST ? acceptsManifest : acceptsIndex;
  let ok = memo.get(accept);
  if (ok === undefined) {
    ok = parseAccepts(accept, mediaType);
    if (memo.size >= ACCEPT_MEMO_MAX) memo.clear();
    memo.set(accept, ok);
  }
  return ok;
}

const ACCEPT_MEMO_MAX = 256;
const acceptsManifest = new Map<string, boolean>();
const acceptsIndex = new Map<string, boolean>();

function parseAccepts(accept: string, mediaType: string): boolean {
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';');
    const t = type!.trim().toLowerCase();
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q !== undefined && Number(q.slice(2)) === 0) continue;
    if (t === mediaType || t === '*/*' || t === 'application/*' || t === 'application/json') return true;
  }
  return false;
}

/** The answer to a manifest GET/HEAD (HEAD drops the body). */
function answer(apiHeader: readonly [string, string], mediaType: string, digest: string, bytes: Buffer): MemoryResponse {
  return {
    status: 200,
    headers: [apiHeader, ['Content-Type', mediaType], ['Docker-Content-Digest', digest], ['ETag', `"${digest}"`]],
    body: bytes,
  };
}

export function createManifests(store: ManifestStore, content: DockerContent, apiHeader: readonly [string, string]) {

  async function readManifestBody(req: Req): Promise<Buffer> {
    try {
      return await req.readBody(MAX_MANIFEST_BYTES);
    } catch (e) {
      if (e instanceof BodyTooLarge) {
        throw oci('MANIFEST_INVALID', `manifest exceeds ${MAX_MANIFEST_BYTES} bytes`, { limit: MAX_MANIFEST_BYTES }, 'TOO_LARGE');
      }
      throw e;
    }
  }

  /** Every referenced blob and child manifest must already be in this repository. */
  async function checkReferences(name: string, p: ParsedManifest): Promise<void> {
    const missing = (d: Descriptor) => oci('MANIFEST_BLOB_UNKNOWN', 'manifest references an unknown blob or manifest', { digest: d.digest.value });
    const unique = (ds: Descriptor[]) => [...new Map(ds.map((d) => [d.digest.value, d])).values()];
    const blobs = await mapLimit(unique(p.blobs), 16, async (d) => {
      if (await store.hasBlob(name, d.digest)) return null;
      // An artifact may list a manifest among its layers.
      if (d.mediaType && isManifestType(d.mediaType) && (await store.hasRevision(name, d.digest))) return null;
      return d;
    });
    const firstBlob = blobs.find((d) => d !== null);
    if (firstBlob) throw missing(firstBlob);
    const children = await mapLimit(unique(p.children), 16, async (d) => ((await store.hasRevision(name, d.digest)) ? null : d));
    const firstChild = children.find((d) => d !== null);
    if (firstChild) throw missing(firstChild);
  }

  async function put(req: Req, reply: Reply, name: string, reference: string): Promise<void> {
    const ref = parseReference(reference);
    const body = await readManifestBody(req);
    const parsed = parseManifest(body, req.headers['content-type']);
    let digest: Digest;
    if (ref.kind === 'digest') {
      const actual = digestOf(body, ref.digest.algorithm);
      if (actual !== ref.digest.value) {
        throw oci('DIGEST_INVALID', 'manifest content does not match the digest in the URL', { expected: ref.digest.value, computed: actual });
      }
      digest = ref.digest;
    } else {
      digest = checkDigest(digestOf(body));
    }
    await checkReferences(name, parsed);
    const meta = metaOf(parsed, body.length);
    await store.put(name, body, digest, meta, {
      tag: ref.kind === 'tag' ? ref.tag : undefined,
      subject: parsed.subject?.digest,
      referrer: parsed.subject ? referrerDescriptor(parsed, digest.value, body.length) : undefined,
    });
    reply.status(201).header('Location', `/v2/${name}/manifests/${digest.value}`).header('Docker-Content-Digest', digest.value);
    // Tells the client the referrers API indexed the subject, so it need not maintain a fallback tag.
    if (parsed.subject) reply.header('OCI-Subject', parsed.subject.digest.value);
    reply.send();
  }

  /**
   * The reference a read or delete names. One no manifest can have (the
   * conformance suite's ".INVALID_MANIFEST_NAME") is simply not found, as in
   * distribution; only PUT refuses it as invalid.
   */
  function lookup(name: string, reference: string): Reference {
    const ref = readReference(reference);
    if (ref === null) throw oci('MANIFEST_UNKNOWN', 'manifest unknown', { name, reference: reference.slice(0, 200) });
    return ref;
  }

  async function get(req: Req, reply: Reply, name: string, reference: string): Promise<void> {
    const ref = lookup(name, reference);
    const found = await content.manifest(name, ref);
    if (!found) throw oci('MANIFEST_UNKNOWN', 'manifest unknown', { name, reference });
    const { digest, meta, bytes } = found;
    if (!acceptable(req.headers['accept'], meta.mediaType)) {
      const what = meta.mediaType === OCI_INDEX ? 'OCI index found, but accept header does not support OCI indexes' : 'OCI manifest found, but accept header does not support OCI manifests';
      throw oci('MANIFEST_UNKNOWN', what, { name, reference, mediaType: meta.mediaType });
    }
    // A pull-through cache whose upstream failed says so (README: proxy behaviour).
    if (found.stale) reply.header('Warning', STALE_WARNING);
    // GET and HEAD do the same work; HEAD only drops the body (bytes are cached).
    sendMemoryResponse(reply, answer(apiHeader, meta.mediaType, digest.value, bytes));
  }

  async function remove(_req: Req, reply: Reply, name: string, reference: string): Promise<void> {
    const ref = lookup(name, reference);
    const removed = ref.kind === 'tag' ? await store.deleteTag(name, ref.tag) : await store.deleteRevision(name, ref.digest);
    if (!removed) throw oci('MANIFEST_UNKNOWN', 'manifest unknown', { name, reference });
    reply.status(202).send();
  }

  return {
    /** What get() answers, when the caches hold all of it (see Protocol.cached). */
    cached(req: ReadView, name: string, reference: string): MemoryResponse | undefined {
      const hit = store.peek(name, reference);
      if (hit === undefined || !acceptable(req.headers.accept, hit.meta.mediaType)) return undefined;
      return answer(apiHeader, hit.meta.mediaType, hit.digest, hit.bytes);
    },
    async handle(req: Req, reply: Reply, name: string, reference: string): Promise<void> {
      switch (req.method) {
        case 'GET':
        case 'HEAD':
          return get(req, reply, name, reference);
        case 'PUT':
          return put(req, reply, name, reference);
        case 'DELETE':
          return remove(req, reply, name, reference);
        default:
          throw methodNotAllowed('GET, HEAD, PUT, DELETE');
      }
    },
  };
}
