// Parses and checks a pushed manifest: which of the four supported types it is,
// and which blobs, child manifests and subject it refers to. Storage is not
// touched here; the caller checks that every reference exists.
import { parseDigest, type Digest } from '../../main/digest.js';
import { oci } from './errors.js';
import type { ManifestMeta } from './layout.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const SCHEMA1 = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);

export type ManifestKind = 'image' | 'index';
const KINDS: Record<string, ManifestKind> = {
  [OCI_MANIFEST]: 'image',
  [DOCKER_MANIFEST]: 'image',
  [OCI_INDEX]: 'index',
  [DOCKER_LIST]: 'index',
};

/** Layers that may live outside the registry: with `urls` they need not be pushed. */
const FOREIGN_LAYERS = new Set([
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);

export interface Descriptor {
  mediaType?: string;
  digest: Digest;
  size: number;
  urls?: string[];
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ParsedManifest {
  mediaType: string;
  kind: ManifestKind;
  /** config and layers that must be blobs of the repository */
  blobs: Descriptor[];
  /** index/list entries that must be manifests of the repository */
  children: Descriptor[];
  subject?: Descriptor;
  /** the descriptor's artifactType as the referrers API reports it */
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** Media type of a Content-Type header without parameters, lower-cased ('' when absent). */
export function bareType(header: string | undefined): string {
  if (!header) return '';
  const i = header.indexOf(';');
  return (i < 0 ? header : header.slice(0, i)).trim().toLowerCase();
}

export const isManifestType = (t: string): boolean => t in KINDS;

function invalid(message: string, detail?: unknown): never {
  throw oci('MANIFEST_INVALID', message, detail);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function annotationsOf(v: unknown, where: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v) || !Object.values(v).every((x) => typeof x === 'string')) {
    invalid(`${where}: annotations must map strings to strings`);
  }
  return v as Record<string, string>;
}

function optionalString(v: unknown, where: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') invalid(`${where} must be a string`);
  return v;
}

function descriptor(v: unknown, where: string): Descriptor {
  if (!isObject(v)) invalid(`${where} must be a descriptor object`);
  const digest = typeof v.digest === 'string' ? parseDigest(v.digest) : null;
  if (!digest) invalid(`${where}: missing, invalid or unsupported digest`, { digest: typeof v.digest === 'string' ? v.digest.slice(0, 200) : null });
  if (!Number.isSafeInteger(v.size) || (v.size as number) < 0) invalid(`${where}: size must be a non-negative integer`);
  const d: Descriptor = { digest, size: v.size as number };
  const mediaType = optionalString(v.mediaType, `${where}.mediaType`);
  if (mediaType !== undefined) d.mediaType = mediaType;
  if (v.urls !== undefined && v.urls !== null) {
    if (!Array.isArray(v.urls) || !v.urls.every((u) => typeof u === 'string')) invalid(`${where}: urls must be strings`);
    d.urls = v.urls as string[];
  }
  const artifactType = optionalString(v.artifactType, `${where}.artifactType`);
  if (artifactType !== undefined) d.artifactType = artifactType;
  const annotations = annotationsOf(v.annotations, where);
  if (annotations) d.annotations = annotations;
  return d;
}

function descriptors(v: unknown, where: string): Descriptor[] {
  if (!Array.isArray(v)) invalid(`${where} must be an array`);
  return v.map((x, i) => descriptor(x, `${where}[${i}]`));
}

/**
 * Decides the manifest's media type from its body and the request's Content-Type.
 * A body that names its type must be pushed with that type (CVE-2021-41190: a
 * registry and a client must never read one document as two different types).
 */
function mediaTypeOf(doc: Record<string, unknown>, contentType: string): string {
  const own = optionalString(doc.mediaType, 'mediaType');
  const generic = contentType === '' || contentType === 'application/json';
  if (own !== undefined) {
    if (!generic && contentType !== own) {
      invalid('Content-Type does not match the manifest mediaType', { contentType, mediaType: own });
    }
    return own;
  }
  if (!generic) return contentType;
  // No type anywhere: OCI allows an omitted mediaType; tell the two OCI shapes apart.
  if ('manifests' in doc) return OCI_INDEX;
  if ('config' in doc) return OCI_MANIFEST;
  return invalid('cannot tell the manifest type: no mediaType and no Content-Type');
}

/** Parses a pushed manifest; throws MANIFEST_INVALID for anything unsupported or malformed. */
export function parseManifest(body: Buffer, contentTypeHeader: string | undefined): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    invalid('manifest is not valid JSON');
  }
  if (!isObject(doc)) invalid('manifest must be a JSON object');
  if (doc.schemaVersion === 1) invalid('schema1 manifests are not supported');
  const mediaType = mediaTypeOf(doc, bareType(contentTypeHeader));
  if (SCHEMA1.has(mediaType)) invalid('schema1 manifests are not supported');
  const kind = KINDS[mediaType];
  if (!kind) invalid('unsupported manifest media type', { mediaType: mediaType.slice(0, 200) });
  if (doc.schemaVersion !== 2) invalid('schemaVersion must be 2');
  const isOci = mediaType === OCI_MANIFEST || mediaType === OCI_INDEX;
  // Docker's schema2 types require the field; only OCI may leave it out.
  if (!isOci && doc.mediaType === undefined) invalid('mediaType is required for Docker manifests');

  const annotations = annotationsOf(doc.annotations, 'manifest');
  const artifactType = isOci ? optionalString(doc.artifactType, 'artifactType') : undefined;
  const subject = isOci && doc.subject !== undefined && doc.subject !== null ? descriptor(doc.subject, 'subject') : undefined;
  const parsed: ParsedManifest = { mediaType, kind, blobs: [], children: [] };
  if (annotations) parsed.annotations = annotations;
  if (subject) parsed.subject = subject;

  if (kind === 'image') {
    // A document that is both an image and an index is ambiguous: refuse it.
    if (doc.manifests !== undefined) invalid('an image manifest must not have a manifests field');
    const config = descriptor(doc.config, 'config');
    const layers = descriptors(doc.layers, 'layers');
    parsed.blobs = [config, ...layers.filter((l) => !(l.urls?.length && l.mediaType && FOREIGN_LAYERS.has(l.mediaType)))];
    if (isOci) parsed.artifactType = artifactType ?? config.mediaType;
  } else {
    if (doc.config !== undefined || doc.layers !== undefined) invalid('an index must not have config or layers fields');
    parsed.children = descriptors(doc.manifests, 'manifests');
    if (artifactType !== undefined) parsed.artifactType = artifactType;
  }
  return parsed;
}

/** The descriptor the referrers API lists for a manifest pushed with a subject. */
export function referrerDescriptor(p: ParsedManifest, digest: string, size: number): Record<string, unknown> {
  const d: Record<string, unknown> = { mediaType: p.mediaType, digest, size };
  if (p.artifactType) d.artifactType = p.artifactType;
  if (p.annotations) d.annotations = p.annotations;
  return d;
}

/** What is stored beside a manifest's bytes (its revision file). */
export function metaOf(p: ParsedManifest, size: number): ManifestMeta {
  const meta: ManifestMeta = { mediaType: p.mediaType, size };
  if (p.artifactType) meta.artifactType = p.artifactType;
  if (p.subject) meta.subject = p.subject.digest.value;
  return meta;
}
