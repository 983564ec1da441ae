// dist-tags (`npm dist-tag add/rm/ls`): GET/PUT/DELETE
// /npm/-/package/<name>/dist-tags[/<tag>], plus POST (merge) and PUT (replace)
// of the whole map.
import type { Reply, Req } from '../../main/http/types.js';
import { HttpError, methodNotAllowed } from '../../main/errors.js';
import { notFound } from './errors.js';
import { highest } from './semver.js';
import { readExisting } from './packument.js';
import type { NpmStore, PackageState } from './store.js';
import type { NpmContent } from './content.js';

const TAG = /^[A-Za-z][A-Za-z0-9._-]{0,127}$/;

/** A tag must not read as a version or range (npm would resolve it as one), so it starts with a letter. */
export function checkTag(tag: string): void {
  if (!TAG.test(tag) || /^v\d/i.test(tag) || tag === 'x' || tag === 'X')
    throw new HttpError('BAD_REQUEST', `invalid dist-tag ${JSON.stringify(tag)}: use a letter, then letters, digits, '.', '_' or '-'`);
}

/** Keeps `latest` pointing at a published version. */
export function ensureLatest(s: PackageState): void {
  if (!s.distTags.latest || !s.versions[s.distTags.latest]) {
    const v = highest(Object.keys(s.versions));
    if (v) s.distTags.latest = v;
    else delete s.distTags.latest;
  }
}

const SMALL_BODY = 64 * 1024;

async function readJson(req: Req): Promise<unknown> {
  const text = (await req.readBody(SMALL_BODY)).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError('BAD_REQUEST', 'request body is not valid JSON');
  }
}

/** Reads go through `content`; changes through the hosted `store`. */
export function createDistTags(content: NpmContent, store: NpmStore) {
  function checkTags(s: PackageState, tags: Record<string, unknown>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [tag, v] of Object.entries(tags)) {
      checkTag(tag);
      if (typeof v !== 'string' || !Object.hasOwn(s.versions, v)) throw new HttpError('NOT_FOUND', `version ${String(v)} of ${s.name} not found (tag ${tag})`);
      out[tag] = v;
    }
    return out;
  }

  async function change(req: Req, reply: Reply, name: string, fn: (s: PackageState) => void): Promise<void> {
    await readExisting(content, name);
    const tags = await store.update(name, async (cur) => {
      if (!cur || !Object.keys(cur.versions).length) throw notFound(`package ${name}`);
      const s = structuredClone(cur);
      fn(s);
      ensureLatest(s);
      return { state: s, result: s.distTags };
    });
    reply.json(201, { ok: true, id: name, 'dist-tags': tags });
  }

  return {
    async handle(req: Req, reply: Reply, name: string, tag: string | null): Promise<void> {
      if (tag === null) {
        if (req.method === 'GET' || req.method === 'HEAD') {
          const s = await readExisting(content, name);
          reply.header('Cache-Control', 'private, no-cache');
          return reply.json(200, s.distTags);
        }
        if (req.method === 'POST' || req.method === 'PUT') {
          const body = await readJson(req);
          if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError('BAD_REQUEST', 'expected an object of tag → version');
          const replace = req.method === 'PUT';
          return change(req, reply, name, (s) => {
            const next = checkTags(s, body as Record<string, unknown>);
            s.distTags = replace ? next : { ...s.distTags, ...next };
          });
        }
        throw methodNotAllowed('GET, HEAD, PUT, POST');
      }
      if (req.method === 'GET' || req.method === 'HEAD') {
        const s = await readExisting(content, name);
        if (!Object.hasOwn(s.distTags, tag)) throw notFound(`dist-tag ${tag} of ${name}`);
        return reply.json(200, s.distTags[tag]);
      }
      if (req.method === 'PUT' || req.method === 'POST') {
        checkTag(tag);
        const body = await readJson(req);
        if (typeof body !== 'string') throw new HttpError('BAD_REQUEST', 'expected a JSON string naming the version');
        return change(req, reply, name, (s) => {
          Object.assign(s.distTags, checkTags(s, { [tag]: body }));
        });
      }
      if (req.method === 'DELETE') {
        if (tag === 'latest') throw new HttpError('BAD_REQUEST', 'the latest tag cannot be removed');
        return change(req, reply, name, (s) => {
          if (!Object.hasOwn(s.distTags, tag)) throw notFound(`dist-tag ${tag} of ${name}`);
          delete s.distTags[tag];
        });
      }
      throw methodNotAllowed('GET, HEAD, PUT, DELETE');
    },
  };
}
