// Stored data is reached only through the storage driver interface: no module
// imports node:fs except the local driver and the few that read the
// operator's own files (config, htpasswd, TLS pair). A new import elsewhere
// fails here.
import t from 'tap';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { ROOT } from './helpers/registry.js';

const ALLOWED = new Map([
  ['src/main/storage/drivers/local.ts', 'the local disk driver'],
  ['src/main/storage/drivers/file-appender.ts', "the local driver's writev-at-an-offset writer"],
  ['src/main/storage/drivers/make-dirs.ts', "the local driver's mkdir -p that ends on procfs"],
  ['src/main/config.ts', 'reads config.toml at start-up'],
  ['src/main/auth/htpasswd.ts', 'reads and watches the htpasswd file'],
  ['src/main/http/tls-pair.ts', "reads the operator's TLS certificate and key files"],
  ['src/main/version.ts', "reads package.json's version at start-up"],
  ['src/main/auth/hash-pool.ts', 'checks at start-up that the hash worker script was built'],
]);

async function* sources(dir: string): AsyncGenerator<string> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (e.name.endsWith('.ts')) yield p;
  }
}

const FS_IMPORT = /\bfrom\s+['"](?:node:)?fs(?:\/promises)?['"]|\bimport\(\s*['"](?:node:)?fs(?:\/promises)?['"]\s*\)|\brequire\(\s*['"](?:node:)?fs/;

t.test('node:fs is imported only where the allow-list says why', async (t) => {
  const offenders: string[] = [];
  const seen = new Set<string>();
  for await (const file of sources(join(ROOT, 'src'))) {
    const rel = relative(ROOT, file).split('\\').join('/');
    if (!FS_IMPORT.test(await readFile(file, 'utf8'))) continue;
    seen.add(rel);
    if (!ALLOWED.has(rel)) offenders.push(rel);
  }
  t.same(offenders, [], 'modules reach stored data through the storage driver');
  for (const rel of ALLOWED.keys()) t.ok(seen.has(rel), `${rel} still needs its entry (${ALLOWED.get(rel)})`);
});

t.test('the check sees every spelling of the import', async (t) => {
  for (const line of ["import { open } from 'node:fs/promises';", 'import * as fs from "fs";', "const fs = await import('node:fs');", "import type { Stats } from 'node:fs';"]) {
    t.ok(FS_IMPORT.test(line), line);
  }
  t.notOk(FS_IMPORT.test("import { x } from './fs-helpers.js';"));
});
