// The real mvn against nora-ts with auth on, driven by the README's CI recipe
// as pasted (its ci-settings.xml, then mvn deploy
// -DaltDeploymentRepository=nora::<url>/maven2 -Dserver.username=token
// -Dserver.password=${NORA_TOKEN}; only the address is changed): a reactor deploys a
// release jar and a SNAPSHOT, the SNAPSHOT is deployed again (a second
// timestamped build) while redeploying the release is refused with the
// reason in mvn's output, then a project depending on both resolves them
// from nora-ts into an empty local repository and compiles against the
// newest build.
import t, { type Test } from 'tap';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { mint, startAuthRegistry, USERS } from './helpers/auth.js';
import { ROOT, tempDir } from './helpers/registry.js';
import type { Run } from './helpers/pypi-tools.js';
import { mavenMissing, shell, writeOfflineSettings, writeProject } from './helpers/maven-tools.js';

const G = 'com.example';
const readme = await readFile(join(ROOT, 'README.md'), 'utf8');

/** The first ```sh block of the README that contains `marker`. */
function shBlock(marker: string): string {
  for (const m of readme.matchAll(/```sh\n([\s\S]*?)```/g)) if (m[1]!.includes(marker)) return m[1]!;
  throw new Error(`README has no sh block with ${marker}`);
}

/** Passes when mvn exited 0; otherwise shows the end of its output. */
function succeeded(t: Test, run: Run, what: string): void {
  t.equal(run.code, 0, what);
  if (run.code !== 0) t.comment(run.stdout.slice(-4000));
}

t.test('mvn deploy of a release and a SNAPSHOT twice, then a dependent project compiles from nora-ts', async (t) => {
  const missing = await mavenMissing();
  if (missing) {
    t.skip(`mvn tests skipped: ${missing}`);
    return;
  }
  const r = await startAuthRegistry();
  const dir = await tempDir('nora-maven-mvn-');
  t.teardown(async () => {
    await r.close();
    await rm(dir, { recursive: true, force: true });
  });
  const token = await mint(r.url, 'alice', USERS.alice, 'write');
  const repo = `${r.url}/maven2`;
  // The README's recipe as pasted, but for the registry's address (plain HTTP here).
  const recipe = shBlock('ci-settings.xml').replaceAll('https://${NORA_REGISTRY}', r.url);
  const deploy = (cwd: string, ...extra: string[]) => shell(cwd, recipe.replace('mvn -s', ['mvn', ...extra, '-s'].join(' ')), { NORA_TOKEN: token });
  const offline = join(dir, 'offline-producer.xml');
  await writeOfflineSettings(offline, join(dir, 'm2-producer'), repo);

  const producers = join(dir, 'producers');
  await writeProject(producers, { groupId: G, artifactId: 'producers', version: '1.0.0', sources: {} }, ['greeter', 'shout'], offline);
  await writeProject(join(producers, 'greeter'), {
    groupId: G,
    artifactId: 'greeter',
    version: '1.0.0',
    sources: { 'com/example/greeter/Greeter.java': 'package com.example.greeter;\npublic class Greeter { public static String greet(String n) { return "hello " + n; } }\n' },
  });
  const shout = (body: string) => ({
    groupId: G,
    artifactId: 'shout',
    version: '2.0-SNAPSHOT',
    sources: { 'com/example/shout/Shout.java': `package com.example.shout;\npublic class Shout { ${body} }\n` },
  });
  await writeProject(join(producers, 'shout'), shout('public static String up(String s) { return s.toUpperCase(); }'));

  const first = await deploy(producers);
  succeeded(t, first, 'mvn deploy of the reactor (release, SNAPSHOT, aggregator POM)');
  const meta = await (await fetch(`${repo}/com/example/greeter/maven-metadata.xml`, { headers: { authorization: `Bearer ${token}` } })).text();
  t.match(meta, '<release>1.0.0</release>', 'artifact-level metadata names the release');
  const snapMeta1 = await (await fetch(`${repo}/com/example/shout/2.0-SNAPSHOT/maven-metadata.xml`, { headers: { authorization: `Bearer ${token}` } })).text();
  t.match(snapMeta1, '<buildNumber>1</buildNumber>');

  // Second round: the SNAPSHOT gains a method; the release may not be deployed again.
  await writeProject(join(producers, 'shout'), shout('public static String up(String s) { return s.toUpperCase(); }\n  public static String loud(String s) { return up(s) + "!"; }'));
  const second = await deploy(producers, '--fail-at-end', '-pl', 'greeter,shout');
  t.not(second.code, 0, 'redeploying the release fails the build');
  t.match(second.stdout, /409.*com\.example:greeter:1\.0\.0 is a release: greeter-1\.0\.0\.(pom|jar) is already deployed/, 'mvn shows why');
  t.match(second.stdout, /shout .*SUCCESS/, 'the SNAPSHOT deployed again');
  const snapMeta2 = await (await fetch(`${repo}/com/example/shout/2.0-SNAPSHOT/maven-metadata.xml`, { headers: { authorization: `Bearer ${token}` } })).text();
  t.match(snapMeta2, '<buildNumber>2</buildNumber>');
  const builds = [...snapMeta2.matchAll(/<value>(2\.0-\d{8}\.\d{6}-\d+)<\/value>/g)].map((m) => m[1]);
  t.ok(builds.length >= 2 && builds.every((b) => b!.endsWith('-2')), 'jar and pom point at build 2');
  const jars = r.logs.filter((l) => /"method":"PUT","path":"\/maven2\/com\/example\/shout\/2\.0-SNAPSHOT\/shout-2\.0-\d{8}\.\d{6}-\d\.jar"/.test(l));
  t.equal(jars.length, 2, 'two timestamped jars deployed');

  // A consumer resolves both into an empty local repository, with an htpasswd user's password.
  const consumer = join(dir, 'consumer');
  const emptyRepo = join(dir, 'm2-consumer');
  await writeOfflineSettings(join(dir, 'offline-consumer.xml'), emptyRepo, repo);
  const app =
    'package com.example.app;\nimport com.example.greeter.Greeter;\nimport com.example.shout.Shout;\npublic class App { public static void main(String[] a) { System.out.println(Shout.loud(Greeter.greet("nora"))); } }\n';
  const consumerProject = { groupId: G, artifactId: 'consumer', version: '1.0.0', dependencies: [`${G}:greeter:1.0.0`, `${G}:shout:2.0-SNAPSHOT`], sources: { 'com/example/app/App.java': app } };
  await writeProject(consumer, consumerProject, [], join(dir, 'offline-consumer.xml'));
  const logFrom = r.logs.length;
  const compile = await shell(consumer, `mvn -s ${join(producers, 'ci-settings.xml')} compile -Dserver.username=bob -Dserver.password=${USERS.bob}`);
  succeeded(t, compile, 'mvn compile of the consumer');
  t.ok(existsSync(join(consumer, 'target/classes/com/example/app/App.class')), 'compiled against both');
  const fetched = r.logs.slice(logFrom).filter((l) => /"method":"GET","path":"\/maven2\/com\/example\//.test(l) && /"status":200/.test(l));
  t.ok(fetched.some((l) => l.includes('/greeter/1.0.0/greeter-1.0.0.jar"')), 'release jar fetched from nora-ts');
  t.ok(fetched.some((l) => /\/shout-2\.0-\d{8}\.\d{6}-2\.jar"/.test(l)), 'newest SNAPSHOT build fetched from nora-ts');
  t.ok((await readdir(join(emptyRepo, 'com/example/shout/2.0-SNAPSHOT'))).some((f) => f.endsWith('.jar')), 'SNAPSHOT in the new local repository');
  t.notOk(r.logs.some((l) => l.includes(token)), 'the token never reaches the log');
});
