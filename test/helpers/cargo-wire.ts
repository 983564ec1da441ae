// Builds cargo's publish body by hand (what `cargo publish` sends): u32 LE
// length + JSON metadata, u32 LE length + the .crate bytes.
import { createHash } from 'node:crypto';

export function publishMeta(name: string, vers: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, vers, deps: [], features: {}, authors: [], description: `${name} for tests`, license: 'MIT', links: null, rust_version: null, ...over };
}

export function publishBody(meta: unknown, crate: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(meta));
  const a = Buffer.alloc(4);
  a.writeUInt32LE(json.length);
  const b = Buffer.alloc(4);
  b.writeUInt32LE(crate.length);
  return Buffer.concat([a, json, b, crate]);
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** PUT /cargo/api/v1/crates/new with `auth` (cargo's raw token form) when given. */
export function publish(url: string, body: Buffer, auth?: string): Promise<Response> {
  return fetch(`${url}/cargo/api/v1/crates/new`, { method: 'PUT', body, headers: auth ? { authorization: auth } : {} });
}
