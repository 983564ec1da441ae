// Debian's nginx as the load balancer in front of several replicas (the replica
// test and bench/replicas.ts), started per use with a generated config: round
// robin per request (no upstream keepalive), bodies streamed both ways
// (proxy_request_buffering off, proxy_buffering off), no body size limit,
// X-Forwarded-* set for links.
import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './servers/process.js';

export const NGINX = '/usr/sbin/nginx';

export async function nginxPresent(): Promise<boolean> {
  return access(NGINX).then(
    () => true,
    () => false,
  );
}

export interface Balancer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startBalancer(dir: string, upstreamPorts: number[]): Promise<Balancer> {
  await mkdir(join(dir, 'logs'), { recursive: true });
  const port = await freePort();
  const conf = `
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream nora { ${upstreamPorts.map((p) => `server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join(' ')} }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 0;
    location / {
      proxy_pass http://nora;
      proxy_http_version 1.1;
      proxy_request_buffering off;
      proxy_buffering off;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_read_timeout 300s;
      proxy_send_timeout 300s;
    }
  }
}
`;
  const file = join(dir, 'nginx.conf');
  await writeFile(file, conf);
  const proc: ChildProcess = spawn(NGINX, ['-p', dir, '-c', file, '-e', join(dir, 'logs', 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (b) => (err += b));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`nginx exited ${proc.exitCode}: ${err}`);
    try {
      await fetch(`${url}/health`);
      break;
    } catch {
      if (i > 200) throw new Error(`nginx did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return {
    url,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGQUIT');
      }),
  };
}
