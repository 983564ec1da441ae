// Drives the real cargo against a nora-ts registry named "nora": a CARGO_HOME
// per workspace (nothing from the machine's cargo setup leaks in), the registry
// and its token in CARGO_REGISTRIES_NORA_* (cargo's token credential provider),
// and crates that depend only on that registry, so crates.io is never needed.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Sparse indexes with `credential-provider` need cargo 1.74 or later. */
const MIN_MINOR = 74;

/** cargo's path (PATH or rustup's ~/.cargo/bin), or why the tests cannot use it. */
export function findCargo(): { cargo: string } | { missing: string } {
  for (const dir of [join(homedir(), '.cargo', 'bin'), ...(process.env.PATH ?? '').split(':')]) {
    const cargo = join(dir, 'cargo');
    if (!dir || !existsSync(cargo)) continue;
    let version = '';
    try {
      version = execFileSync(cargo, ['--version'], { encoding: 'utf8', timeout: 30_000 });
    } catch {
      continue;
    }
    const minor = Number(/^cargo 1\.(\d+)/.exec(version)?.[1] ?? 0);
    if (minor >= MIN_MINOR) return { cargo };
    return { missing: `${version.trim()} is older than 1.${MIN_MINOR} (CI installs rustup's cargo in ~/.cargo/bin)` };
  }
  return { missing: 'cargo is not installed (CI installs rustup\'s cargo in ~/.cargo/bin)' };
}

export interface CargoResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class CargoWorkspace {
  constructor(
    readonly cargo: string,
    readonly dir: string,
    readonly indexUrl: string,
    public token: string | undefined,
  ) {}

  /** Runs `cargo <args>` in `cwd`; never throws on a non-zero exit. */
  run(args: string[], cwd = this.dir): Promise<CargoResult> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^CARGO|^RUST/.test(k)) env[k] = v;
    const bin = join(this.cargo, '..');
    Object.assign(env, {
      PATH: `${bin}:${env.PATH ?? ''}`,
      // rustup's cargo proxy finds its toolchains in RUSTUP_HOME, which a fresh CARGO_HOME must not hide.
      RUSTUP_HOME: process.env.RUSTUP_HOME ?? join(homedir(), '.rustup'),
      CARGO_HOME: join(this.dir, 'cargo-home'),
      CARGO_TARGET_DIR: join(this.dir, 'target'),
      CARGO_REGISTRIES_NORA_INDEX: this.indexUrl,
      CARGO_REGISTRIES_NORA_CREDENTIAL_PROVIDER: 'cargo:token',
      CARGO_TERM_COLOR: 'never',
      CARGO_HTTP_TIMEOUT: '30',
      CARGO_NET_RETRY: '0',
      ...(this.token ? { CARGO_REGISTRIES_NORA_TOKEN: this.token } : {}),
    });
    return new Promise((resolve) => {
      execFile(this.cargo, args, { cwd, env, timeout: 180_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      });
    });
  }
}

export interface CrateSpec {
  name: string;
  version: string;
  /** lines of the [dependencies] table */
  deps?: string[];
  /** lines of the [features] table */
  features?: string[];
  lib?: string;
  main?: string;
}

/** Writes a crate that publishes only to "nora"; returns its directory. */
export async function makeCrate(parent: string, c: CrateSpec): Promise<string> {
  const dir = join(parent, c.name);
  await mkdir(join(dir, 'src'), { recursive: true });
  const toml = [
    '[package]',
    `name = "${c.name}"`,
    `version = "${c.version}"`,
    'edition = "2021"',
    `description = "${c.name}, a test crate"`,
    'license = "MIT"',
    'publish = ["nora"]',
    '',
    '[dependencies]',
    ...(c.deps ?? []),
    '',
    '[features]',
    ...(c.features ?? []),
    '',
  ];
  await writeFile(join(dir, 'Cargo.toml'), toml.join('\n'));
  if (c.lib !== undefined) await writeFile(join(dir, 'src', 'lib.rs'), c.lib);
  if (c.main !== undefined) await writeFile(join(dir, 'src', 'main.rs'), c.main);
  return dir;
}
