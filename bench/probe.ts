// Measures a server's responsiveness from outside: one keep-alive connection
// sends a cheap GET every few ms and records each round trip. For a Node
// server this bounds the event-loop lag from above (the probe also pays
// parsing and the network round trip, which is ~0.1 ms here).
import { Agent, request } from 'node:http';

export function startProbe(url: string, everyMs = 5) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const samplesMs: number[] = [];
  let running = true;
  let errors = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = request(url, { agent, method: 'GET' }, (res) => {
        res.resume();
        res.on('end', () => {
          samplesMs.push(performance.now() - t0);
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });
  const loop = (async () => {
    while (running) {
      await one();
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop(): Promise<{ samplesMs: number[]; errors: number }> {
      running = false;
      await loop;
      agent.destroy();
      return { samplesMs, errors };
    },
  };
}
