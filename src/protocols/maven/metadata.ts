// maven-metadata.xml, rendered from the stored documents (never taken from a
// client, whose copy may be stale or lose a concurrent deploy's version): the
// artifact level lists the versions with `latest` and `release`; a SNAPSHOT's
// version level names its newest timestamped build and, per classifier and
// extension, the build to download. The same documents always render the same
// bytes, so the XML and its checksums agree whenever they are fetched.
import { compareVersions } from './versions.js';
import { isSnapshot, snapshotBuild } from './paths.js';
import type { ArtifactDoc, VersionDoc } from './store.js';

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const el = (name: string, value: string) => `<${name}>${escape(value)}</${name}>`;

/** yyyyMMddHHmmss in UTC, Maven's lastUpdated. */
export function mavenTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

function highest(versions: string[]): string | undefined {
  return versions.reduce<string | undefined>((best, v) => (best === undefined || compareVersions(v, best) > 0 ? v : best), undefined);
}

export function artifactMetadata(doc: ArtifactDoc): string {
  const versions = [...doc.versions].sort(compareVersions);
  const latest = highest(versions);
  const release = highest(versions.filter((v) => !isSnapshot(v)));
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<metadata>',
    `  ${el('groupId', doc.groupId)}`,
    `  ${el('artifactId', doc.artifactId)}`,
    '  <versioning>',
    ...(latest ? [`    ${el('latest', latest)}`] : []),
    ...(release ? [`    ${el('release', release)}`] : []),
    '    <versions>',
    ...versions.map((v) => `      ${el('version', v)}`),
    '    </versions>',
    `    ${el('lastUpdated', mavenTime(doc.lastUpdated))}`,
    '  </versioning>',
    '</metadata>',
    '',
  ].join('\n');
}

interface Latest {
  timestamp: string;
  buildNumber: number;
  modified: number;
}

const newer = (a: Latest, b: Latest) => a.buildNumber > b.buildNumber || (a.buildNumber === b.buildNumber && a.timestamp > b.timestamp);

export function versionMetadata(doc: VersionDoc): string {
  const base = doc.version.slice(0, -'-SNAPSHOT'.length);
  let snapshot: Latest | undefined;
  let lastUpdated = 0;
  const perKind = new Map<string, Latest & { classifier: string; extension: string }>();
  for (const [name, rec] of Object.entries(doc.files)) {
    lastUpdated = Math.max(lastUpdated, rec.modified);
    const b = snapshotBuild(name, doc.artifactId, doc.version);
    if (!b) continue;
    const cur: Latest = { timestamp: b.timestamp, buildNumber: b.buildNumber, modified: rec.modified };
    if (!snapshot || newer(cur, snapshot)) snapshot = cur;
    const kind = `${b.classifier}\n${b.extension}`;
    const seen = perKind.get(kind);
    if (!seen || newer(cur, seen)) perKind.set(kind, { ...cur, classifier: b.classifier, extension: b.extension });
  }
  const kinds = [...perKind.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, k]) => k);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<metadata modelVersion="1.1.0">',
    `  ${el('groupId', doc.groupId)}`,
    `  ${el('artifactId', doc.artifactId)}`,
    `  ${el('version', doc.version)}`,
    '  <versioning>',
    ...(snapshot
      ? ['    <snapshot>', `      ${el('timestamp', snapshot.timestamp)}`, `      ${el('buildNumber', String(snapshot.buildNumber))}`, '    </snapshot>']
      : []), // only non-timestamped files: clients fetch <artifact>-<version>.<ext> as named
    `    ${el('lastUpdated', mavenTime(lastUpdated))}`,
    '    <snapshotVersions>',
    ...kinds.flatMap((k) => [
      '      <snapshotVersion>',
      ...(k.classifier ? [`        ${el('classifier', k.classifier)}`] : []),
      `        ${el('extension', k.extension)}`,
      `        ${el('value', `${base}-${k.timestamp}-${k.buildNumber}`)}`,
      `        ${el('updated', mavenTime(k.modified))}`,
      '      </snapshotVersion>',
    ]),
    '    </snapshotVersions>',
    '  </versioning>',
    '</metadata>',
    '',
  ].join('\n');
}
