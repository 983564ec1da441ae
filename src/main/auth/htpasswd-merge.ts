// Three-way merge of htpasswd texts, so two replicas whose files were edited
// at once lose neither edit: the entries `mine` changed against `base` (what
// the file held before the edit) are applied to `theirs`, the copy another
// replica published meanwhile. Where both changed one user, mine (the later
// publisher) wins. Lines keep theirs' order and comments; users theirs lacks
// go at the end.
import { entryOf } from './htpasswd.js';

function entries(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const e = entryOf(line);
    if (e !== null && e !== 'bad') m.set(e.user, e.hash);
  }
  return m;
}

export function mergeHtpasswd(base: string, mine: string, theirs: string): string {
  if (theirs === base) return mine;
  const b = entries(base);
  const m = entries(mine);
  /** user → new hash, null once removed */
  const edits = new Map<string, string | null>();
  for (const [u, h] of m) if (b.get(u) !== h) edits.set(u, h);
  for (const u of b.keys()) if (!m.has(u)) edits.set(u, null);
  if (edits.size === 0) return theirs;
  const out: string[] = [];
  const lines = theirs.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  const placed = new Set<string>();
  for (const line of lines) {
    const e = entryOf(line);
    if (e === null || e === 'bad' || !edits.has(e.user)) {
      out.push(line);
      continue;
    }
    const h = edits.get(e.user)!;
    if (h !== null && !placed.has(e.user)) out.push(`${e.user}:${h}`);
    placed.add(e.user);
  }
  for (const [u, h] of edits) if (h !== null && !placed.has(u)) out.push(`${u}:${h}`);
  return out.length === 0 ? '' : out.join('\n') + '\n';
}
