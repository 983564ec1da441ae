// What a scenario needs from a server under test, whichever registry it is.
import type { S3Target } from '../s3-store.js';
export type ServerName = 'nora-ts' | 'distribution' | 'verdaccio';
export const SERVERS: ServerName[] = ['nora-ts', 'distribution', 'verdaccio'];
/** The servers nora-ts is measured against; each scenario names one (distribution by default). */
export type PeerName = Exclude<ServerName, 'nora-ts'>;

export interface Credentials {
  /** path of the htpasswd file (bcrypt, `htpasswd -B` default cost) */
  htpasswd: string;
  user: string;
  password: string;
}

/** PEM files for a server that serves https (the bench's own CA signed `cert`). */
export interface TlsFiles {
  cert: string;
  key: string;
  ca: string;
}

export interface StartOptions {
  auth: boolean;
  creds: Credentials;
  /** serve https with these files */
  tls?: TlsFiles;
  /** directory for node --cpu-prof output (nora-ts only) */
  cpuProfDir?: string;
  /** pull-through from this registry URL (nora-ts: NORA_DOCKER_PROXIES; distribution: proxy.remoteurl) */
  proxyUpstream?: string;
  /** keep content in this S3 bucket instead of local disk */
  s3?: S3Target;
}

export interface RunningServer {
  name: ServerName;
  url: string;
  pid: number;
  /** ms from spawn() to the first 200 on the readiness path */
  startupMs: number;
  /** Authorization header value for the bench user, when auth is on */
  auth?: string;
  /** path that answers 200 once the server serves (with `auth` if set) */
  readyPath: string;
  /** a cheap path answered without credentials, to sample responsiveness */
  probePath: string;
  /** where the npm registry is mounted ('' = the root), for servers that serve npm */
  npmPath?: string;
  /** stops the process and deletes its data directory */
  stop(): Promise<void>;
  /** last lines the process wrote to stderr/stdout, for error messages */
  output(): string;
}

export function basicAuth(user: string, password: string): string {
  return 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
}
