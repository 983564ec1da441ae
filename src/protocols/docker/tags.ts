// /v2/<name>/tags/list: the repository's tags in byte order, n/last paginated.
// Only tag files are listed, so digests never show up as tags.
import type { Reply, Req } from '../../main/http/types.js';
import { oci } from './errors.js';
import { methodNotAllowed } from '../../main/errors.js';
import type { DockerContent } from './content.js';
import { parsePage, setNextLink } from './pagination.js';

export function createTags(content: DockerContent) {
  return {
    async handle(req: Req, reply: Reply, name: string): Promise<void> {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed('GET, HEAD');
      const { n, last } = parsePage(req);
      const page = await content.tags(name, n, last);
      if (!page) throw oci('NAME_UNKNOWN', 'repository name not known to registry', { name });
      // n=0 asks for an empty list and, per the spec, no Link header.
      if (n > 0 && page.more) setNextLink(reply, `/v2/${name}/tags/list`, n, page.names[page.names.length - 1]!);
      reply.json(200, { name, tags: page.names });
    },
  };
}
