// The bench installs nothing: it checks that each external program is on PATH
// and names the exact apt-get line for whatever is missing.
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** program → Debian package that provides it */
export const REQUIRED: Record<string, string> = {
  wrk: 'wrk',
  hey: 'hey',
  'docker-registry': 'docker-registry',
  htpasswd: 'apache2-utils',
  openssl: 'openssl',
};

export async function which(program: string): Promise<string | null> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, program);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      /* keep looking */
    }
  }
  return null;
}

/** null when everything is present, else the message to print. */
export async function missingTools(): Promise<string | null> {
  const missing: string[] = [];
  for (const program of Object.keys(REQUIRED)) if (!(await which(program))) missing.push(program);
  if (missing.length === 0) return null;
  const pkgs = [...new Set(missing.map((p) => REQUIRED[p]!))];
  return (
    `bench: missing on PATH: ${missing.join(', ')}\n` +
    `Install them (Debian 12), then run again:\n` +
    `  apt-get install -y ${pkgs.join(' ')}\n` +
    `(run apt-get update first if the package lists are empty)\n`
  );
}
