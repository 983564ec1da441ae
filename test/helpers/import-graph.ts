// The import graph of a source tree, read with TypeScript's own pre-processor
// (static imports, `import type`, `export ... from`, side-effect and dynamic
// imports; comments and strings are not mistaken for imports), and the cycles in it.
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

export type Graph = Map<string, string[]>;

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await tsFiles(p)));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Files under `root` (paths relative to it) → the files under `root` they import. */
export async function importGraph(root: string): Promise<Graph> {
  const files = await tsFiles(root);
  const known = new Set(files);
  const graph: Graph = new Map();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(await readFile(file, 'utf8'), true, true);
    const deps: string[] = [];
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue; // packages and node: builtins
      const target = resolve(dirname(file), fileName.replace(/\.js$/, '.ts'));
      if (!known.has(target)) throw new Error(`${relative(root, file)} imports ${fileName}, which is no .ts file under ${root}`);
      deps.push(relative(root, target));
    }
    graph.set(relative(root, file), deps);
  }
  return graph;
}

export interface Knot {
  /** every file of one strongly connected component, sorted */
  files: string[];
  /** a shortest cycle through its first file: a → b → … → a */
  cycle: string[];
}

/** The strongly connected components with more than one file, or a file importing itself (Tarjan's algorithm). */
export function findCycles(graph: Graph): Knot[] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(c);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return components.map((c) => ({ files: c.sort(), cycle: cycleWithin(graph, new Set(c)) }));
}

/** A shortest cycle through the component's first file (alphabetically), found breadth-first. */
function cycleWithin(graph: Graph, members: Set<string>): string[] {
  const start = [...members].sort()[0]!;
  const parent = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = parent.get(u)!) path.splice(1, 0, u);
        return [...path, start];
      }
      if (!parent.has(w)) {
        parent.set(w, v);
        queue.push(w);
      }
    }
  }
  throw new Error(`no cycle through ${start}`); // unreachable for a strongly connected component
}
