// No import cycles in src/: every module can be read (and loaded) after the
// modules it depends on. A cycle is named file by file.
import t from 'tap';
import { join } from 'node:path';
import { findCycles, importGraph, type Graph } from './helpers/import-graph.js';
import { ROOT } from './helpers/registry.js';

t.test('the checker finds and names cycles', async (t) => {
  const g: Graph = new Map([
    ['a.ts', ['b.ts']],
    ['b.ts', ['c.ts', 'd.ts']],
    ['c.ts', ['a.ts']],
    ['d.ts', []],
    ['e.ts', ['e.ts']],
  ]);
  t.same(new Set(findCycles(g).map((k) => k.cycle.join(' → '))), new Set(['a.ts → b.ts → c.ts → a.ts', 'e.ts → e.ts']));
  t.same(findCycles(g).find((k) => k.files.length > 1)?.files, ['a.ts', 'b.ts', 'c.ts']);
  t.same(findCycles(new Map([['a.ts', ['b.ts']], ['b.ts', []]])), []);
});

t.test('src/ has no import cycles', async (t) => {
  const graph = await importGraph(join(ROOT, 'src'));
  t.ok(graph.size > 50, `read ${graph.size} modules`);
  t.ok(graph.get('main/server.ts')?.includes('main/protocol.ts'), 'type imports are edges');
  const cycles = findCycles(graph).map((k) => `${k.cycle.join(' → ')} (files in this knot: ${k.files.join(', ')})`);
  t.same(cycles, [], cycles.length ? `import cycles:\n  ${cycles.join('\n  ')}` : 'no cycles');
});
