// Small-file writes that a crash can never tear: a private temp file in the
// same directory, fsync, rename over the target, fsync the directory.
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fsyncDir } from '../storage/local.js';

export const TEMP_SUFFIX = '.tmp';

export async function writeFileAtomic(dir: string, name: string, data: string, mode = 0o600): Promise<void> {
  const tmp = join(dir, `.${name}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
  const fh = await open(tmp, 'wx', mode);
  try {
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(dir, name));
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fsyncDir(dir);
}
