// The real mvn for the Maven tests, kept offline: Maven Central is out of
// reach, so plugins (versions pinned) come from the machine's pre-filled
// repository through a file:// plugin repository, everything else is
// mirrored to the registry under test, and each project gets its own local
// repository. Those settings are global ones named by the project's
// .mvn/maven.config, so the README's user settings and command lines run
// unchanged.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { run, type Run } from './pypi-tools.js';

/** A Maven repository holding the pinned plugins (test variable, not a NORA_ one). */
export const PLUGIN_REPO = process.env.MAVEN_PLUGIN_REPO ?? join(homedir(), '.m2', 'repository');

const PLUGINS: Record<string, string> = {
  'maven-resources-plugin': '3.3.1',
  'maven-compiler-plugin': '3.13.0',
  'maven-surefire-plugin': '3.2.5',
  'maven-jar-plugin': '3.4.1',
  'maven-install-plugin': '3.1.2',
  'maven-deploy-plugin': '3.1.2',
};

/** Why the mvn tests cannot run here, or null when they can. */
export async function mavenMissing(): Promise<string | null> {
  const ok = await new Promise<boolean>((resolve) => execFile('mvn', ['-v'], { timeout: 60_000 }, (err) => resolve(!err)));
  if (!ok) return 'mvn is not installed';
  for (const [a, v] of Object.entries(PLUGINS)) {
    if (!existsSync(join(PLUGIN_REPO, 'org/apache/maven/plugins', a, v))) return `${a} ${v} is not in ${PLUGIN_REPO} (set MAVEN_PLUGIN_REPO)`;
  }
  return null;
}

/**
 * Global settings (mvn -gs) that keep a run offline: its own local repository,
 * everything mirrored to `url` as server `nora` (central's SNAPSHOT policy
 * turned on), plugins from PLUGIN_REPO (a local repository has no checksum
 * files). Credentials come from the user settings (-s), as the README's.
 */
export async function writeOfflineSettings(file: string, localRepo: string, url: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(
    file,
    `<settings>
  <localRepository>${localRepo}</localRepository>
  <mirrors><mirror><id>nora</id><mirrorOf>*,!machine-plugins</mirrorOf><url>${url}</url></mirror></mirrors>
  <profiles><profile><id>offline-plugins</id>
    <repositories><repository><id>central</id><url>${url}</url><snapshots><enabled>true</enabled></snapshots></repository></repositories>
    <pluginRepositories><pluginRepository><id>machine-plugins</id><url>file://${PLUGIN_REPO}</url><releases><checksumPolicy>ignore</checksumPolicy></releases></pluginRepository></pluginRepositories>
  </profile></profiles>
  <activeProfiles><activeProfile>offline-plugins</activeProfile></activeProfiles>
</settings>
`,
  );
}

export interface Project {
  groupId: string;
  artifactId: string;
  version: string;
  /** groupId:artifactId:version */
  dependencies?: string[];
  /** path below src/main/java → source */
  sources: Record<string, string>;
}

/**
 * A jar project with the plugins pinned; with `modules`, an aggregator of
 * those sub-projects instead. With `offline` (global settings), the project's
 * .mvn/maven.config names them, so mvn command lines run as written.
 */
export async function writeProject(dir: string, p: Project, modules: string[] = [], offline?: string): Promise<void> {
  const deps = (p.dependencies ?? []).map((d) => {
    const [g, a, v] = d.split(':');
    return `<dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
  });
  const plugins = Object.entries(PLUGINS).map(([a, v]) => `<plugin><artifactId>${a}</artifactId><version>${v}</version></plugin>`);
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'pom.xml'),
    `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>${p.groupId}</groupId><artifactId>${p.artifactId}</artifactId><version>${p.version}</version>
  <packaging>${modules.length ? 'pom' : 'jar'}</packaging>
  <properties><maven.compiler.release>17</maven.compiler.release><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>
  ${modules.length ? `<modules>${modules.map((m) => `<module>${m}</module>`).join('')}</modules>` : ''}
  <dependencies>${deps.join('')}</dependencies>
  <build><pluginManagement><plugins>${plugins.join('')}</plugins></pluginManagement><plugins>${plugins.join('')}</plugins></build>
</project>
`,
  );
  if (offline) {
    await mkdir(join(dir, '.mvn'), { recursive: true });
    await writeFile(join(dir, '.mvn', 'maven.config'), `-gs ${offline} -B -ntp\n`);
  }
  for (const [path, source] of Object.entries(p.sources)) {
    const file = join(dir, 'src/main/java', path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, source);
  }
}

/** A JVM tuned for a short run (C1 only) keeps each mvn call to seconds. */
const MAVEN_OPTS = '-XX:TieredStopAtLevel=1 -Xshare:auto';

/** A shell script (a README recipe) in `cwd`, with mvn's JVM tuned and `env` added. */
export function shell(cwd: string, script: string, env: Record<string, string> = {}): Promise<Run> {
  return run('bash', ['-euo', 'pipefail', '-c', script], { cwd, env: { MAVEN_OPTS, ...env } });
}
