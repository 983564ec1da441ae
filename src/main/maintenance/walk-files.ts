// Every regular file below a directory, depth first in name order (so runs of
// gc and verify report in a stable order); a directory that cannot be read
// (gone meanwhile) yields nothing.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

export async function* walkFiles(dir: string): AsyncGenerator<string> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walkFiles(p);
    else if (e.isFile()) yield p;
  }
}
