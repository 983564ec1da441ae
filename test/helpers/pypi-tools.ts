// Real Python packaging tools for the PyPI tests: Debian's python3 with build
// and twine, venvs with pip isolated from the machine's pip configuration, and
// small helpers that use Python itself as the reference (zipfile, hashlib).
import { execFile } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const PYTHON = '/usr/bin/python3';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string>; input?: Buffer } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const env: Record<string, string> = {};
    // Keep the machine's pip/python configuration out: PIP_* and PYTHON* variables point at local indexes,
    // and requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE win over a --cert the tool is given.
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(PIP_|PYTHON|VIRTUAL_ENV|REQUESTS_CA_BUNDLE$|CURL_CA_BUNDLE$)/.test(k)) env[k] = v;
    Object.assign(env, { PIP_CONFIG_FILE: '/dev/null', PIP_DISABLE_PIP_VERSION_CHECK: '1', NO_COLOR: '1', ...opts.env });
    const child = execFile(cmd, args, { cwd: opts.cwd, env, timeout: 180_000, maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: stdout.toString('utf8'), stderr: stderr.toString('utf8') });
    });
    // A child that never reads stdin may exit first: EPIPE then says nothing; its exit code does.
    child.stdin!.on('error', () => {});
    if (opts.input) child.stdin!.end(opts.input);
    else child.stdin!.end();
  });
}

/** Runs a Python snippet with Debian's python3; returns stdout as bytes. */
export async function python(code: string, args: string[] = [], input?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(PYTHON, ['-c', code, ...args], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`python failed: ${stderr.toString()}`));
      else resolve(stdout);
    });
    child.stdin!.on('error', () => {}); // see run(): the exit status decides
    child.stdin!.end(input ?? Buffer.alloc(0));
  });
}

/** Builds an sdist and a wheel of a one-module project offline with `python3 -m build --no-isolation`. */
export async function buildProject(dir: string, name: string, version: string, value: string): Promise<{ wheel: string; sdist: string }> {
  const mod = name.replace(/[-.]/g, '_').toLowerCase();
  await mkdir(join(dir, 'src', mod), { recursive: true });
  await writeFile(
    join(dir, 'pyproject.toml'),
    [
      '[build-system]',
      'requires = ["setuptools>=61", "wheel"]',
      'build-backend = "setuptools.build_meta"',
      '[project]',
      `name = "${name}"`,
      `version = "${version}"`,
      `description = "${name} for nora-ts tests"`,
      'requires-python = ">=3.8"',
      '',
    ].join('\n'),
  );
  await writeFile(join(dir, 'src', mod, '__init__.py'), `VALUE = ${JSON.stringify(value)}\n`);
  const b = await run(PYTHON, ['-m', 'build', '--no-isolation', '--sdist', '--wheel', '--outdir', 'dist', '.'], { cwd: dir });
  if (b.code !== 0) throw new Error(`build failed: ${b.stderr}`);
  const files = await readdir(join(dir, 'dist'));
  const wheel = files.find((f) => f.endsWith('.whl'));
  const sdist = files.find((f) => f.endsWith('.tar.gz'));
  if (!wheel || !sdist) throw new Error(`build produced ${files.join(', ')}`);
  return { wheel: join(dir, 'dist', wheel), sdist: join(dir, 'dist', sdist) };
}

export function twine(args: string[], cwd?: string): Promise<Run> {
  return run(PYTHON, ['-m', 'twine', 'upload', '--non-interactive', '--disable-progress-bar', ...args], { cwd });
}

/** A fresh venv whose pip sees only the index it is given. */
export async function venv(dir: string): Promise<{ pip(args: string[], env?: Record<string, string>): Promise<Run>; python(code: string): Promise<Run> }> {
  const v = await run(PYTHON, ['-m', 'venv', '--without-pip', dir]);
  if (v.code !== 0) throw new Error(`venv failed: ${v.stderr}`);
  // pip from Debian's bundled wheel, run from the venv's interpreter, installs into the venv.
  const wheel = (await run(PYTHON, ['-c', 'import glob;print(glob.glob("/usr/share/python-wheels/pip-*.whl")[0])'])).stdout.trim();
  const py = join(dir, 'bin', 'python');
  return {
    // --isolated ignores PIP_* variables; a caller testing them passes `env` (run() already
    // keeps the machine's own PIP_* and pip.conf out).
    pip: (args, env) =>
      run(py, [`${wheel}/pip`, ...args.slice(0, 1), ...(env ? [] : ['--isolated']), '--no-cache-dir', ...args.slice(1)], { env }),
    python: (code) => run(py, ['-c', code]),
  };
}

/** Writes a wheel with Python's zipfile: METADATA naming `metaName`, optional extra members. */
export async function writeWheel(path: string, distName: string, version: string, metaName = distName, opts: { zip64?: boolean; stored?: boolean } = {}): Promise<void> {
  await python(
    `
import sys, zipfile
path, dist, ver, meta, zip64, stored = sys.argv[1:7]
comp = zipfile.ZIP_STORED if stored == '1' else zipfile.ZIP_DEFLATED
di = f"{dist}-{ver}.dist-info"
with zipfile.ZipFile(path, 'w', comp) as z:
    z.writestr(f"{dist}/__init__.py", "VALUE = 1\\n")
    with z.open(f"{di}/METADATA", 'w', force_zip64=(zip64 == '1')) as f:
        f.write(f"Metadata-Version: 2.1\\nName: {meta}\\nVersion: {ver}\\nRequires-Python: >=3.9, <4\\nSummary: x\\n\\n{'long description ' * 200}\\n".encode())
    z.writestr(f"{di}/WHEEL", "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
    z.writestr(f"{di}/RECORD", "")
`,
    [path, distName, version, metaName, opts.zip64 ? '1' : '0', opts.stored ? '1' : '0'],
  );
}

/** A member of a zip file, read by Python's zipfile (the reference reader). */
export function zipMember(path: string, member: string): Promise<Buffer> {
  return python('import sys,zipfile;sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))', [path, member]);
}
