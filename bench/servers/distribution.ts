// The CNCF distribution registry (Debian `docker-registry`, 2.8) as the peer:
// filesystem storage in a fresh temp dir, htpasswd auth when asked, access log off
// (nora-ts runs with access logs off too).
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnUntilReady } from './process.js';
import { basicAuth, type RunningServer, type StartOptions } from './types.js';

function configYaml(dataDir: string, port: number, opts: StartOptions): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    ...(opts.s3
      ? [
          // its s3-aws driver on the same gateway; blob GETs served by the registry (no
          // 307 to the store) as nora-ts serves them, unless the scenario redirects
          '  s3:',
          `    accesskey: ${JSON.stringify(opts.s3.accessKey)}`,
          `    secretkey: ${JSON.stringify(opts.s3.secretKey)}`,
          `    region: ${opts.s3.region}`,
          `    regionendpoint: ${opts.s3.url}`,
          `    bucket: ${opts.s3.bucket}`,
          '    secure: false',
          '    v4auth: true',
          '  redirect:',
          `    disable: ${!opts.s3.redirect}`,
        ]
      : ['  filesystem:', `    rootdirectory: ${JSON.stringify(dataDir)}`]),
    '  delete:',
    '    enabled: true',
    '  cache:',
    '    blobdescriptor: inmemory',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: bench-local-secret',
  ];
  if (opts.tls) lines.push('  tls:', `    certificate: ${JSON.stringify(opts.tls.cert)}`, `    key: ${JSON.stringify(opts.tls.key)}`);
  if (opts.proxyUpstream) lines.push('proxy:', `  remoteurl: ${JSON.stringify(opts.proxyUpstream)}`);
  if (opts.auth) {
    lines.push('auth:', '  htpasswd:', '    realm: basic-realm', `    path: ${JSON.stringify(opts.creds.htpasswd)}`);
  }
  return lines.join('\n') + '\n';
}

export async function startDistribution(opts: StartOptions): Promise<RunningServer> {
  const dir = await mkdtemp(join(tmpdir(), 'distribution-bench-'));
  const port = await freePort();
  const config = join(dir, 'config.yml');
  await writeFile(config, configYaml(join(dir, 'data'), port, opts));
  const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const auth = opts.auth ? basicAuth(opts.creds.user, opts.creds.password) : undefined;
  const s = await spawnUntilReady({
    cmd: 'docker-registry',
    args: ['serve', config],
    // Its AWS SDK reads AWS_* from the environment (a custom CA bundle there breaks its
    // plain-http transport): the gateway's settings come from config.yml only.
    env: opts.s3 ? Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_'))) : process.env,
    cwd: dir,
    readyUrl: `${url}/v2/`,
    readyHeaders: auth ? { Authorization: auth } : {},
    dataDir: dir,
    ca: opts.tls?.ca,
  });
  return {
    name: 'distribution',
    url,
    pid: s.child.pid!,
    startupMs: s.startupMs,
    auth,
    readyPath: '/v2/',
    // answered without a bcrypt: 401 with auth on, 200 without
    probePath: '/v2/',
    stop: s.stop,
    output: s.output,
  };
}
