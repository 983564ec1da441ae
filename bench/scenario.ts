// What a scenario is, the settings of a run (full or --quick), and the helper
// that gives a scenario a fresh server for exactly one measurement.
import { startServer, type Credentials, type PeerName, type RunningServer, type ServerName, type TlsFiles } from './servers/index.js';
import { seedImage, type Seeded } from './registry-client.js';
import { generatedBuffer } from './content.js';
import { MiB } from './stats.js';
import { createBucket, type CephS3, type S3Target } from './s3-store.js';

export type Value = number | { na: string };

export interface MetricDef {
  key: string;
  label: string;
  unit: string;
  better: 'higher' | 'lower' | 'exact';
  digits?: number;
}

export interface Settings {
  runs: number;
  threads: number;
  warmupS: number;
  manifestS: number;
  blobS: number;
  rssS: number;
  stormSize: number;
  bigPushBytes: number;
  smallPushes: number;
  smallPushBytes: number;
  idleWaitMs: number;
  layerBytes: number;
  /** pull-through scenario: layer size, concurrent cold pulls, upstream rate per stream */
  proxyLayerBytes: number;
  proxyClients: number;
  proxyRateBps: number;
}

export const FULL: Settings = {
  runs: 3,
  threads: 2,
  warmupS: 2,
  manifestS: 20,
  blobS: 15,
  rssS: 10,
  stormSize: 500,
  bigPushBytes: 1024 * MiB,
  smallPushes: 32,
  smallPushBytes: 8 * MiB,
  idleWaitMs: 2000,
  layerBytes: 10 * MiB,
  proxyLayerBytes: 100 * MiB,
  proxyClients: 64,
  proxyRateBps: 20_000_000,
};

export const QUICK: Settings = {
  ...FULL,
  runs: 1,
  warmupS: 1,
  manifestS: 2,
  blobS: 5, // 64 parallel 10 MiB downloads at 200 MB/s (S3 on a busy machine) take over 3 s each
  rssS: 3,
  bigPushBytes: 64 * MiB,
  idleWaitMs: 500,
  proxyLayerBytes: 8 * MiB,
  proxyClients: 8,
};

export interface BenchContext {
  settings: Settings;
  creds: Credentials;
  /** certificate, key and CA for scenarios over https */
  tls: TlsFiles;
  /** a credential in the htpasswd file that no server has seen yet */
  freshCredential(): Credentials;
  cpuProfDir?: string;
  /** set by the S3 variants of scenarios (scenarios/s3.ts): every server gets a fresh bucket on it */
  s3?: CephS3 & Pick<S3Target, 'redirect'>;
  log(msg: string): void;
}

export interface Scenario {
  id: string;
  title: string;
  metrics: MetricDef[];
  /** the server nora-ts is measured against (default distribution) */
  peer?: PeerName;
  /** servers that cannot run this scenario, with the reason */
  skip?: Partial<Record<ServerName, string>>;
  /** ratio against another scenario's distribution figures (e.g. tokens vs htpasswd) */
  compareWith?: string;
  /** one measurement on `server`; returns one value per metric key */
  run(ctx: BenchContext, server: ServerName): Promise<Record<string, Value>>;
}

export function peerOf(s: Scenario): PeerName {
  return s.peer ?? 'distribution';
}

export const REPO = 'bench/app';
export const TAG = 'latest';

export interface Session {
  server: RunningServer;
  seeded: Seeded | null;
}

let layerCache: { size: number; data: Buffer } | null = null;
export function layer(size: number): Buffer {
  if (!layerCache || layerCache.size !== size) layerCache = { size, data: generatedBuffer(7, size) };
  return layerCache.data;
}

/** Starts `name` fresh (empty storage), optionally seeds the image, runs fn, always stops it. */
export async function withServer<T>(
  ctx: BenchContext,
  name: ServerName,
  opts: { auth: boolean; seed: boolean; tls?: boolean },
  fn: (s: Session) => Promise<T>,
): Promise<T> {
  const bucket = ctx.s3 ? await createBucket(ctx.s3, 'bench') : null;
  const s3 = bucket ? { ...ctx.s3!, bucket: bucket.bucket } : undefined;
  const server = await startServer(name, { auth: opts.auth, creds: ctx.creds, cpuProfDir: ctx.cpuProfDir, tls: opts.tls ? ctx.tls : undefined, s3 }).catch(async (e) => {
    await bucket?.remove();
    throw e;
  });
  try {
    const seeded = opts.seed ? await seedImage(server.url, REPO, TAG, layer(ctx.settings.layerBytes), server.auth) : null;
    return await fn({ server, seeded });
  } catch (e) {
    const out = server.output().trim();
    if (out && e instanceof Error && !e.message.includes('output:')) e.message += ` (server output: ${out.split('\n').slice(-2).join(' | ').slice(0, 300)})`;
    throw e;
  } finally {
    await server.stop();
    await bucket?.remove();
  }
}

export function authHeader(auth: string | undefined): Record<string, string> {
  return auth ? { Authorization: auth } : {};
}
