// PEP 658: the core metadata of a wheel (`<name>-<ver>.dist-info/METADATA`),
// extracted once at upload so the index can offer it as `<file>.metadata`.
import type { ObjectReader } from '../../main/storage/driver.js';
import { listEntries, readEntry, ZipError } from './zip.js';
import { normalize } from './normalize.js';

const MAX_METADATA = 16 * 1024 * 1024;

export class WheelError extends Error {
  override name = 'WheelError';
}

/** Header fields of a core metadata file (RFC 822 style, up to the first blank line). */
export function metadataFields(text: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  let last: string | null = null;
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break;
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
      const vals = fields.get(last)!;
      vals[vals.length - 1] += `\n${line.trim()}`;
      continue;
    }
    const i = line.indexOf(':');
    if (i <= 0) continue;
    last = line.slice(0, i).trim().toLowerCase();
    const vals = fields.get(last) ?? [];
    vals.push(line.slice(i + 1).trim());
    fields.set(last, vals);
  }
  return fields;
}

/** Reads METADATA out of the wheel `fh` reads, checking it describes project `norm`. */
export async function wheelMetadata(fh: ObjectReader, norm: string): Promise<{ data: Buffer; requiresPython: string | null }> {
  const size = fh.size;
  let entries;
  try {
    entries = await listEntries(fh, size);
  } catch (e) {
    throw new WheelError(`not a valid wheel (zip): ${(e as Error).message}`);
  }
  const candidates = entries.filter((e) => /^[^/]+\.dist-info\/METADATA$/.test(e.name));
  const mine = candidates.filter((e) => normalize(e.name.split('-')[0]!) === norm);
  const entry = mine.length === 1 ? mine[0] : candidates.length === 1 ? candidates[0] : undefined;
  if (!entry) throw new WheelError('wheel has no single .dist-info/METADATA');
  let data: Buffer;
  try {
    data = await readEntry(fh, size, entry, MAX_METADATA);
  } catch (e) {
    if (e instanceof ZipError) throw new WheelError(`cannot read ${entry.name}: ${e.message}`);
    throw e;
  }
  const fields = metadataFields(data.toString('utf8'));
  const name = fields.get('name')?.[0];
  if (!name || normalize(name) !== norm) throw new WheelError(`wheel METADATA names project ${JSON.stringify(name ?? '')}, not ${norm}`);
  return { data, requiresPython: fields.get('requires-python')?.[0] ?? null };
}
