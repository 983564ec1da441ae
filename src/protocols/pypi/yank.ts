// PEP 592 yanking: POST /pypi/<project>/<version>/yank (optional plain-text
// reason as the body) marks every file of that version yanked; .../unyank
// reverses it. Yanked files stay downloadable; installers skip them unless
// pinned exactly.
import type { Reply, Req } from '../../main/http/types.js';
import { HttpError, methodNotAllowed } from '../../main/errors.js';
import { isValidProject, normalize } from './normalize.js';
import type { PypiStore } from './store.js';

export function createYank(store: PypiStore) {
  return {
    async handle(req: Req, reply: Reply, project: string, version: string, yank: boolean): Promise<void> {
      if (req.method !== 'POST') throw methodNotAllowed('POST');
      if (!isValidProject(project)) throw new HttpError('NOT_FOUND', `project ${project} not found`);
      const reason = yank ? (await req.readBody(4096)).toString('utf8').trim() : '';
      const norm = normalize(project);
      const count = await store.update(norm, async (cur) => {
        if (!cur) throw new HttpError('NOT_FOUND', `project ${norm} not found`);
        const state = structuredClone(cur);
        let n = 0;
        for (const f of Object.values(state.files)) {
          if (f.version !== version) continue;
          f.yanked = yank ? reason : false;
          n++;
        }
        if (n === 0) throw new HttpError('NOT_FOUND', `version ${version} of ${norm} not found`);
        return { state, result: n };
      });
      reply.status(200).header('Content-Type', 'text/plain; charset=utf-8').send(`${yank ? 'yanked' : 'unyanked'} ${count} file(s) of ${norm} ${version}\n`);
    },
  };
}
