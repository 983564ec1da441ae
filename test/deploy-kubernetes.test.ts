// The Kubernetes manifests in deploy/kubernetes/ (JSON, which is YAML: no
// YAML reader is a dependency) checked against the code: every NORA_*
// variable the Deployment sets is a known, implemented setting and together
// with the ConfigMap's config.toml forms a valid configuration; every file
// path it names lies in a mounted Secret or ConfigMap that holds that key, and
// the paths written lie on the persistent volume (the root filesystem is read
// only); probes, ports, the Service and the claim fit together. Then the
// container's environment is run for real (mount paths mapped to temp
// folders holding the Secrets' and ConfigMap's keys, a test certificate as
// the TLS Secret) and the probes' paths answer 200 over the probes' scheme.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdir, readFile, readdir, rm, writeFile, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildConfig, unimplementedEnv } from '../src/main/config.js';
import { CLI, ROOT, freePort, tempDir } from './helpers/registry.js';
import { makeHtpasswd } from './helpers/auth.js';
import { issue, makeCa, tlsFetch } from './helpers/tls.js';

const DIR = join(ROOT, 'deploy', 'kubernetes');

type Obj = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; [k: string]: any };

async function manifests(): Promise<Obj[]> {
  const out: Obj[] = [];
  for (const f of (await readdir(DIR)).filter((n) => n.endsWith('.yaml')).sort()) {
    const text = await readFile(join(DIR, f), 'utf8');
    let o: Obj;
    try {
      o = JSON.parse(text) as Obj;
    } catch (e) {
      throw new Error(`${f}: not JSON-compatible YAML: ${(e as Error).message}`);
    }
    out.push(o);
  }
  return out;
}

const memMi = (q: string) => {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  if (!m) throw new Error(`memory quantity ${q}`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
};

t.test('deploy/kubernetes manifests', async (t) => {
  const all = await manifests();
  for (const o of all) t.ok(o.apiVersion && o.kind && o.metadata?.name, `${o.kind}/${o.metadata?.name} has apiVersion, kind, name`);
  const one = (kind: string) => {
    const list = all.filter((o) => o.kind === kind);
    t.equal(list.length, 1, `one ${kind}`);
    return list[0]!;
  };
  const deployment = one('Deployment');
  const service = one('Service');
  const pvc = one('PersistentVolumeClaim');
  const configMap = one('ConfigMap');
  const secrets = all.filter((o) => o.kind === 'Secret');
  const pod = deployment.spec.template.spec;
  t.equal(pod.containers.length, 1);
  const c = pod.containers[0];
  const env: Record<string, string> = Object.fromEntries(c.env.map((e: { name: string; value: string }) => [e.name, e.value]));
  t.ok(c.env.every((e: { value?: unknown }) => typeof e.value === 'string'), 'every variable has a literal value');

  // Mounts: mount path → what it holds (key → content, null when it is a Secret made outside the manifests).
  const volumes = new Map<string, any>(pod.volumes.map((v: any) => [v.name, v]));
  const mounts = c.volumeMounts.map((m: any) => ({ ...m, volume: volumes.get(m.name) }));
  t.ok(mounts.every((m: any) => m.volume), 'every mount names a volume');
  const holds = (m: any): Record<string, string> | null => {
    if (m.volume.configMap) return all.find((o) => o.kind === 'ConfigMap' && o.metadata.name === m.volume.configMap.name)!.data;
    if (m.volume.secret) {
      const s = secrets.find((o) => o.metadata.name === m.volume.secret.secretName);
      return s ? { ...s.stringData, ...s.data } : null;
    }
    return null;
  };
  const mountOf = (path: string) => mounts.find((m: any) => path.startsWith(m.mountPath + '/'));

  t.test('environment and config.toml form a valid configuration with nothing ignored', async (t) => {
    t.same(unimplementedEnv(env), [], 'no variable is one nora-ts ignores');
    const toml = configMap.data['config.toml'];
    const config = buildConfig(toml, env);
    t.equal(config.auth.enabled, true);
    t.equal(config.server.port, c.ports[0].containerPort, 'NORA_PORT is the container port');
    t.ok(config.server.tls_cert && config.server.tls_key, 'TLS on');
    t.equal(config.rate_limit.enabled, true, 'rate limits on');
    t.ok(config.auth.oidc.providers.length > 0, 'an OIDC provider example');
    t.equal(mountOf(env.NORA_CONFIG_PATH!)?.volume.configMap?.name, configMap.metadata.name, 'NORA_CONFIG_PATH lies in the ConfigMap mount');
  });

  t.test('every file the configuration reads is a key of a mounted Secret or ConfigMap; writes go to the volume', async (t) => {
    const config = buildConfig(configMap.data['config.toml'], env);
    for (const [what, path] of [
      ['htpasswd_file', config.auth.htpasswd_file],
      ['tls_cert', config.server.tls_cert],
      ['tls_key', config.server.tls_key],
      ['NORA_CONFIG_PATH', env.NORA_CONFIG_PATH!],
    ] as const) {
      const m = mountOf(path);
      t.ok(m, `${what} ${path} lies in a mount`);
      t.equal(m.readOnly, true, `${what}: mounted read-only`);
      const key = path.slice(m.mountPath.length + 1);
      const data = holds(m);
      if (data === null) {
        t.equal(m.volume.secret.secretName, 'nora-tls', `${what}: the TLS Secret is made with kubectl (README)`);
        t.ok(['tls.crt', 'tls.key'].includes(key), `${what}: ${key} is a key of a kubernetes.io/tls Secret`);
      } else t.ok(key in data, `${what}: key ${key} is in ${m.volume.secret?.secretName ?? m.volume.configMap?.name}`);
    }
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    t.match(readme, /kubectl create secret tls nora-tls/, 'README says how to make the TLS Secret');
    const htpasswd = secrets.find((s) => s.metadata.name === 'nora-htpasswd')!.stringData['users.htpasswd'] as string;
    t.ok(htpasswd.trim().split('\n').every((l) => /^[^:]+:\$2y\$05\$/.test(l)), 'the htpasswd Secret is shaped like htpasswd -B output');
    for (const [what, path] of [
      ['storage.path', config.storage.path],
      ['auth.token_storage', config.auth.token_storage],
    ] as const) {
      const m = mountOf(path);
      t.ok(m?.volume.persistentVolumeClaim, `${what} ${path} is on the persistent volume`);
      t.notOk(m.readOnly, `${what}: writable`);
      t.equal(m.volume.persistentVolumeClaim.claimName, pvc.metadata.name, 'the claim exists');
    }
  });

  t.test('non-root, read-only root filesystem, resources, probes, Service', async (t) => {
    t.equal(pod.securityContext.runAsNonRoot, true);
    t.ok(pod.securityContext.runAsUser > 0, 'a non-zero uid');
    t.equal(c.securityContext.readOnlyRootFilesystem, true);
    t.equal(c.securityContext.allowPrivilegeEscalation, false);
    t.same(c.securityContext.capabilities.drop, ['ALL']);
    t.equal(deployment.spec.strategy.type, 'Recreate', 'one registry process per storage volume (ReadWriteOnce)');
    t.ok(memMi(c.resources.limits.memory) >= memMi(c.resources.requests.memory), 'memory limit ≥ request');
    t.ok(c.resources.requests.cpu, 'cpu request');
    t.equal(c.readinessProbe.httpGet.path, '/ready');
    t.equal(c.livenessProbe.httpGet.path, '/health');
    for (const p of [c.readinessProbe, c.livenessProbe]) {
      t.equal(p.httpGet.scheme, 'HTTPS', 'probes speak TLS like the port');
      t.ok(c.ports.some((x: any) => x.name === p.httpGet.port), `probe port ${p.httpGet.port} is a container port`);
    }
    t.same(service.spec.selector, deployment.spec.selector.matchLabels);
    t.same(deployment.spec.template.metadata.labels, deployment.spec.selector.matchLabels);
    t.ok(service.spec.ports.every((p: any) => c.ports.some((x: any) => x.name === p.targetPort)), 'Service targets a container port by name');
    t.ok(pod.terminationGracePeriodSeconds > Number(env.NORA_SHUTDOWN_TIMEOUT_SECS), 'SIGKILL comes after the drain');
  });

  t.test('the container environment runs, and the probes answer', async (t) => {
    const work = await tempDir('nora-k8s-');
    t.teardown(() => rm(work, { recursive: true, force: true }));
    const ca = await makeCa(join(work, 'ca'), 'k8s-ca');
    const cert = await issue(ca, 'registry');
    const map = new Map<string, string>();
    for (const m of mounts) {
      const dir = join(work, 'mnt', m.name);
      await mkdir(dir, { recursive: true });
      map.set(m.mountPath, dir);
      const data = holds(m);
      for (const [k, v] of Object.entries(data ?? {})) await writeFile(join(dir, k), v);
      if (m.volume.secret?.secretName === 'nora-tls') {
        await copyFile(cert.cert, join(dir, 'tls.crt'));
        await copyFile(cert.key, join(dir, 'tls.key'));
      }
    }
    // The Secret is a template: a real htpasswd stands in for its placeholder hashes.
    const htMount = mountOf(env.NORA_AUTH_HTPASSWD_FILE!);
    const real = await makeHtpasswd(work, { admin: 'admin-pw' });
    await copyFile(real, join(map.get(htMount.mountPath)!, 'users.htpasswd'));
    const rewritten: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) {
      const m = mountOf(v);
      rewritten[k] = m ? map.get(m.mountPath)! + v.slice(m.mountPath.length) : v;
    }
    const port = await freePort();
    Object.assign(rewritten, { NORA_HOST: '127.0.0.1', NORA_PORT: String(port) });
    const base: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('NORA_') && v !== undefined) base[k] = v;
    const proc = spawn(process.execPath, [CLI, 'serve'], { cwd: work, env: { ...base, ...rewritten }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (b) => (out += b));
    proc.stderr.on('data', (b) => (out += b));
    t.teardown(() => new Promise<void>((r) => (proc.exitCode !== null ? r() : (proc.once('exit', () => r()), proc.kill('SIGTERM')))));
    const caPem = await readFile(ca.cert);
    const probe = (path: string) => tlsFetch(`https://127.0.0.1:${port}${path}`, caPem).catch(() => null);
    const deadline = Date.now() + 15_000;
    while ((await probe(c.readinessProbe.httpGet.path))?.status !== 200) {
      if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`registry did not become ready: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const p of [c.readinessProbe, c.livenessProbe]) t.equal((await probe(p.httpGet.path))?.status, 200, `${p.httpGet.path} answers 200 over https`);
    t.equal((await probe('/v2/'))?.status, 401, 'auth is on');
    t.notMatch(out, /does not implement/, 'no variable ignored at start');
  });
});
