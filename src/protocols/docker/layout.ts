// Where Docker/OCI metadata lives in storage. Blob and manifest bytes live in
// the shared content-addressed store (main/storage/blobs.ts); a repository only
// holds small link files saying which digests belong to it.
//
//   docker/<name>/_layers/<alg>/<hex>                    blob is part of <name> (empty file)
//   docker/<name>/_manifests/revisions/<alg>/<hex>       manifest meta JSON (ManifestMeta)
//   docker/<name>/_manifests/tags/<tag>                  digest string the tag points at
//   docker/<name>/_referrers/<alg>/<subject hex>/<alg>-<hex>  referrer descriptor JSON
//
// Repository components never start with '_' (name grammar), so these never collide.
import type { Digest } from '../../main/digest.js';

export const repoKey = (name: string) => `docker/${name}`;
export const layerLinkKey = (name: string, d: Digest) => `docker/${name}/_layers/${d.algorithm}/${d.hex}`;
export const revisionKey = (name: string, d: Digest) => `docker/${name}/_manifests/revisions/${d.algorithm}/${d.hex}`;
export const tagsPrefix = (name: string) => `docker/${name}/_manifests/tags`;
export const tagKey = (name: string, tag: string) => `docker/${name}/_manifests/tags/${tag}`;
export const referrersPrefix = (name: string, subject: Digest) => `docker/${name}/_referrers/${subject.algorithm}/${subject.hex}`;
export const referrerKey = (name: string, subject: Digest, d: Digest) =>
  `${referrersPrefix(name, subject)}/${d.algorithm}-${d.hex}`;

/** What is kept about a stored manifest beside its bytes. */
export interface ManifestMeta {
  mediaType: string;
  size: number;
  artifactType?: string;
  subject?: string;
  annotations?: Record<string, string>;
}
