// Looking at a server process from outside (Linux /proc) and clients that walk
// away half way, for the leak, abort and soak tests.
import { readdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';

export async function fdCount(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  return kb * 1024;
}

/** Sum of a metric's samples from /metrics (plain HTTP, Connection: close). */
export async function metricValue(port: number, name: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { connection: 'close' } });
  let sum = 0;
  for (const line of (await res.text()).split('\n')) {
    if (line.startsWith(name + ' ') || line.startsWith(name + '{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/**
 * A client that gives up half way. With `contentLength` > 0 it announces a
 * body of that size, sends `cutAfter` bytes of it and drops the connection; for
 * a download (contentLength 0) it reads `cutAfter` bytes of the response and
 * drops. Resolves once the socket is closed.
 */
export function abortedRequest(port: number, method: string, target: string, contentLength: number, cutAfter: number): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let received = 0;
    const done = () => {
      s.destroy();
      resolve();
    };
    s.on('error', () => {});
    s.on('close', () => resolve());
    s.setTimeout(10_000, done);
    s.on('connect', () => {
      const head = `${method} ${target} HTTP/1.1\r\nhost: 127.0.0.1\r\n${contentLength ? `content-length: ${contentLength}\r\ncontent-type: application/octet-stream\r\n` : ''}\r\n`;
      s.write(head);
      if (contentLength) {
        let sent = 0;
        const pump = () => {
          while (sent < cutAfter) {
            const n = Math.min(64 * 1024, cutAfter - sent);
            sent += n;
            if (!s.write(randomBytes(n))) return void s.once('drain', pump);
          }
          // Give the server a moment to take the bytes in, then vanish.
          setTimeout(done, Math.random() * 20);
        };
        pump();
      }
    });
    s.on('data', (c: Buffer) => {
      received += c.length;
      if (!contentLength && received >= cutAfter) done();
    });
  });
}
