// Drives the real npm CLI against a nora-ts registry: an isolated HOME, user
// config and cache per workspace, so nothing from the machine's npm setup leaks
// in, and all traffic goes to the registry under test.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface NpmResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class NpmWorkspace {
  constructor(
    readonly dir: string,
    readonly registry: string,
  ) {}

  /** Writes the user .npmrc: the registry, and the token for it when given. */
  async configure(token?: string, extra: string[] = []): Promise<void> {
    const host = this.registry.replace(/^https?:/, '');
    const lines = [`registry=${this.registry}`, ...(token ? [`${host}:_authToken=${token}`] : []), ...extra];
    await writeFile(join(this.dir, '.npmrc'), lines.join('\n') + '\n');
  }

  /** Runs `npm <args>` in `cwd` (default: the workspace); never throws on a non-zero exit. */
  run(args: string[], cwd = this.dir, cache = join(this.dir, 'cache')): Promise<NpmResult> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^npm_/i.test(k)) env[k] = v;
    Object.assign(env, {
      HOME: this.dir,
      npm_config_userconfig: join(this.dir, '.npmrc'),
      npm_config_globalconfig: join(this.dir, 'global-npmrc'),
      npm_config_cache: cache,
      npm_config_update_notifier: 'false',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_loglevel: 'warn',
      NO_COLOR: '1',
    });
    return new Promise((resolve) => {
      execFile('npm', args, { cwd, env, timeout: 120_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      });
    });
  }
}

/** Creates a package directory with package.json and an index.js exporting `value`. */
export async function makePackage(dir: string, manifest: Record<string, unknown>, value: unknown): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify({ main: 'index.js', license: 'MIT', ...manifest }, null, 2));
  await writeFile(join(dir, 'index.js'), `module.exports = ${JSON.stringify(value)};\n`);
  await writeFile(join(dir, 'README.md'), `# ${String(manifest.name)}\n`);
  return dir;
}
