// Facts recorded with every result file, so runs can be compared across commits and machines.
import { cpus, totalmem, release, hostname } from 'node:os';
import { exec } from './exec.js';

export interface MachineInfo {
  cores: number;
  cpu_model: string;
  memory_bytes: number;
  node: string;
  kernel: string;
  host: string;
  tools: Record<string, string>;
}

export interface GitInfo {
  commit: string | null;
  dirty: boolean | null;
}

async function firstLine(cmd: string, args: string[]): Promise<string> {
  try {
    const r = await exec(cmd, args, { timeoutMs: 5000 });
    return (r.stdout || r.stderr).split('\n')[0]!.trim();
  } catch {
    return 'unknown';
  }
}

export async function machineInfo(): Promise<MachineInfo> {
  const c = cpus();
  return {
    cores: c.length,
    cpu_model: c[0]?.model.trim() ?? 'unknown',
    memory_bytes: totalmem(),
    node: process.version,
    kernel: release(),
    host: hostname(),
    tools: {
      wrk: await firstLine('wrk', ['--version']),
      // hey has no version flag; the Debian package version is what matters
      hey: await firstLine('dpkg-query', ['-W', '-f=${Version}', 'hey']),
      'docker-registry': await firstLine('docker-registry', ['--version']),
    },
  };
}

export async function gitInfo(cwd: string): Promise<GitInfo> {
  try {
    const head = await exec('git', ['-C', cwd, 'rev-parse', 'HEAD'], { timeoutMs: 5000 });
    if (head.code !== 0) return { commit: null, dirty: null };
    const st = await exec('git', ['-C', cwd, 'status', '--porcelain', '--untracked-files=no'], { timeoutMs: 5000 });
    return { commit: head.stdout.trim(), dirty: st.stdout.trim().length > 0 };
  } catch {
    return { commit: null, dirty: null };
  }
}
