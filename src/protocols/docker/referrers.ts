// /v2/<name>/referrers/<digest>: an OCI image index listing the manifests of
// this repository whose `subject` is <digest>, optionally filtered by
// artifactType. Never 404: clients read a 404 as "no referrers API here".
import type { Reply, Req } from '../../main/http/types.js';
import { methodNotAllowed } from '../../main/errors.js';
import { checkDigest } from './names.js';
import { OCI_INDEX } from './manifest-parse.js';
import { mapLimit, type ManifestStore } from './manifest-store.js';
import { parsePage, setNextLink } from './pagination.js';

/** A page stays well below the 4 MiB a client must accept for one manifest. */
const MAX_PAGE_BYTES = 3 * 1024 * 1024;
const BATCH = 64;

export function createReferrers(store: ManifestStore) {
  return {
    async handle(req: Req, reply: Reply, name: string, digest: string): Promise<void> {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed('GET, HEAD');
      const subject = checkDigest(digest);
      const filter = req.query.get('artifactType') || undefined;
      const { n, last } = parsePage(req);

      const manifests: Record<string, unknown>[] = [];
      let bytes = 0;
      let cursor = last;
      let more = false;
      // Entries are read in batches, in digest order, until the page is full.
      fill: while (n > 0) {
        const batch = await store.listReferrers(name, subject, BATCH, cursor);
        const descs = await mapLimit(batch.names, 16, (e) => store.readReferrer(name, subject, e));
        for (let i = 0; i < batch.names.length; i++) {
          if (manifests.length >= n || bytes >= MAX_PAGE_BYTES) {
            more = true;
            break fill;
          }
          cursor = batch.names[i];
          const d = descs[i];
          if (!d || (filter !== undefined && d.artifactType !== filter)) continue;
          manifests.push(d);
          bytes += JSON.stringify(d).length;
        }
        if (!batch.more) break;
        if (manifests.length >= n || bytes >= MAX_PAGE_BYTES) {
          more = true;
          break;
        }
      }

      const extra: Record<string, string> = filter !== undefined ? { artifactType: filter } : {};
      if (more && cursor !== undefined) setNextLink(reply, `/v2/${name}/referrers/${subject.value}`, n, cursor, extra);
      if (filter !== undefined) reply.header('OCI-Filters-Applied', 'artifactType');
      reply
        .status(200)
        .header('Content-Type', OCI_INDEX)
        .send(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
    },
  };
}
