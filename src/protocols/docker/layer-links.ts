// A repository "has" a blob when its layer link exists and the bytes are in the
// shared store. Uploads and mounts create links; blob DELETE removes them; the
// bytes themselves are left to garbage collection (other repos may share them).
import type { Digest } from '../../main/digest.js';
import type { Context } from '../../main/protocol.js';
import { layerLinkKey } from './layout.js';

/** True when `name` links the blob (the bytes may still be missing: check the store too). */
export async function isLinked(ctx: Context, name: string, d: Digest): Promise<boolean> {
  return (await ctx.storage.stat(layerLinkKey(name, d))) !== null;
}

/** True when `name` links the blob and its bytes are in the store. */
export async function hasBlob(ctx: Context, name: string, d: Digest): Promise<boolean> {
  return (await isLinked(ctx, name, d)) && (await ctx.blobs.stat(d)) !== null;
}

/** Links a stored blob into `name` (idempotent). */
export async function linkBlob(ctx: Context, name: string, d: Digest): Promise<void> {
  await ctx.storage.put(layerLinkKey(name, d), '', { ifAbsent: true });
}

/** Removes `name`'s link; false when there was none. */
export function unlinkBlob(ctx: Context, name: string, d: Digest): Promise<boolean> {
  return ctx.storage.delete(layerLinkKey(name, d));
}
