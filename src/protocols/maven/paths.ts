// What a path under /maven2/ names, in the Maven 2 layout
// <group as folders>/<artifactId>/<version>/<file>, checked segment by segment
// so nothing outside the layout (traversal, backslashes, empty or absolute
// segments, odd characters) ever reaches a storage key.
import { HttpError } from '../../main/errors.js';

export const PREFIX = '/maven2';

/** The sidecar checksums Maven clients deploy and fetch, by file suffix. */
export const CHECKSUMS = ['md5', 'sha1', 'sha256', 'sha512'] as const;
export type Checksum = (typeof CHECKSUMS)[number];

export interface Coordinates {
  /** groupId segments (com/example → ["com", "example"]) */
  group: string[];
  artifact: string;
}

export type MavenPath =
  /** an artifact, POM or other file of one version */
  | (Coordinates & { kind: 'file'; version: string; file: string; checksum: Checksum | null })
  /** <group>/<artifact>/maven-metadata.xml: the versions of an artifact */
  | (Coordinates & { kind: 'artifact-metadata'; checksum: Checksum | null })
  /** <group>/<artifact>/<x>-SNAPSHOT/maven-metadata.xml: the timestamped builds of a SNAPSHOT */
  | (Coordinates & { kind: 'version-metadata'; version: string; checksum: Checksum | null });

export const METADATA = 'maven-metadata.xml';
/** Coordinates and file names: Maven's own character set; a leading dot or dash (".", "..", options) and ".." anywhere are refused. */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.+~-]{0,199}$/;
const MAX_SEGMENTS = 64;

export const isSnapshot = (version: string) => version.endsWith('-SNAPSHOT');
export const groupId = (c: Coordinates) => c.group.join('.');
/** "com.example:demo", the package name auth and logs see. */
export const coordinates = (c: Coordinates) => `${groupId(c)}:${c.artifact}`;

const bad = (why: string) => new HttpError('BAD_REQUEST', `invalid Maven path: ${why}`);

/** The segments of a raw path below /maven2/, decoded; throws BAD_REQUEST when one is not a plain name. */
export function segmentsOf(rawPath: string): string[] {
  const rest = rawPath.slice(PREFIX.length + 1);
  if (rest === '') return [];
  const segs = rest.split('/');
  if (segs.length > MAX_SEGMENTS) throw bad('too many segments');
  return segs.map((raw) => {
    let s: string;
    try {
      s = decodeURIComponent(raw);
    } catch {
      throw bad('malformed percent-encoding');
    }
    if (!SEGMENT.test(s) || s.includes('..')) throw bad(`segment ${JSON.stringify(s.slice(0, 64))} is not a plain name (letters, digits, . _ - + ~)`);
    return s;
  });
}

/** Splits a trailing .md5/.sha1/.sha256/.sha512 off a file name. */
function splitChecksum(file: string): [string, Checksum | null] {
  const dot = file.lastIndexOf('.');
  const ext = file.slice(dot + 1) as Checksum;
  return dot > 0 && CHECKSUMS.includes(ext) ? [file.slice(0, dot), ext] : [file, null];
}

/** What a raw /maven2/... path names; throws BAD_REQUEST for anything outside the layout. */
export function parseMavenPath(rawPath: string): MavenPath {
  const segs = segmentsOf(rawPath);
  const [name, checksum] = splitChecksum(segs[segs.length - 1] ?? '');
  if (name === METADATA && segs.length >= 4 && isSnapshot(segs[segs.length - 2]!)) {
    return { kind: 'version-metadata', group: segs.slice(0, -3), artifact: segs[segs.length - 3]!, version: segs[segs.length - 2]!, checksum };
  }
  if (name === METADATA && segs.length >= 3) {
    return { kind: 'artifact-metadata', group: segs.slice(0, -2), artifact: segs[segs.length - 2]!, checksum };
  }
  if (segs.length < 4) throw bad('expected <group>/<artifactId>/<version>/<file>');
  const artifact = segs[segs.length - 3]!;
  const version = segs[segs.length - 2]!;
  if (!belongsTo(name, artifact, version)) throw bad(`${name} is not a file of ${artifact} ${version} (expected ${artifact}-${version}...)`);
  return { kind: 'file', group: segs.slice(0, -3), artifact, version, file: name, checksum };
}

/** A build of a SNAPSHOT: <base>-<yyyyMMdd.HHmmss>-<buildNumber>. */
const BUILD = /^(\d{8}\.\d{6})-([1-9]\d{0,8})/;

export interface SnapshotBuild {
  /** yyyyMMdd.HHmmss */
  timestamp: string;
  buildNumber: number;
  classifier: string;
  extension: string;
}

/** The timestamped build a file of a SNAPSHOT version is, or null (a file named <artifact>-<x>-SNAPSHOT...). */
export function snapshotBuild(file: string, artifact: string, version: string): SnapshotBuild | null {
  const base = version.slice(0, -'-SNAPSHOT'.length);
  const head = `${artifact}-${base}-`;
  if (!file.startsWith(head)) return null;
  const m = BUILD.exec(file.slice(head.length));
  if (!m) return null;
  const tail = file.slice(head.length + m[0].length);
  const classified = tail.startsWith('-');
  const dot = tail.indexOf('.');
  if (dot < 0 || (!classified && dot !== 0)) return null;
  return { timestamp: m[1]!, buildNumber: Number(m[2]), classifier: classified ? tail.slice(1, dot) : '', extension: tail.slice(dot + 1) };
}

/** Maven's rule: a version's files are <artifact>-<version>[-classifier].<ext> (SNAPSHOT builds may replace SNAPSHOT by a timestamp). */
function belongsTo(file: string, artifact: string, version: string): boolean {
  const head = `${artifact}-${version}`;
  if (file.startsWith(head) && (file[head.length] === '.' || file[head.length] === '-') && file.length > head.length + 1) return true;
  return isSnapshot(version) && snapshotBuild(file, artifact, version) !== null;
}
