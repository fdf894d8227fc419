// The library's modules form layers: a module imports from its own folder or from folders below it,
// never from above, so that each folder can be read (and reused) without the ones above it; a folder
// with sub-folders layers them the same way; and no file imports itself back through others (no
// import circle, type imports included).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers.js';

/** Top-level entries of src/, bottom layer first; entries on one line are one layer. */
const LAYERS: string[][] = [
  ['errors.ts', 'version.ts'],
  ['util'],
  ['formats'],
  ['dataset', 'image'],
  ['models'],
  ['engines'],
  ['features'],
  ['metrics'],
  ['classifiers'],
  ['report'],
  ['pipeline'],
  ['commands'],
  ['cli.ts', 'index.ts'],
];

/**
 * Folders of src/ whose sub-folders are layers of their own, bottom first, as LAYERS; `.` stands
 * for the folder's own files, which may import every sub-folder.
 */
const SUB_LAYERS: Record<string, string[][]> = {
  classifiers: [['common', 'linalg'], ['svc', 'linear'], ['parallel'], ['selection'], ['.']],
  pipeline: [['setup'], ['batches'], ['.']],
};

const SRC = path.join(ROOT, 'src');

/** The top-level entry of src/ a file belongs to (`models` for src/models/card.ts). */
function entryOf(file: string): string {
  return path.relative(SRC, file).split(path.sep)[0]!;
}

/** The entry of a layered folder a file belongs to: its sub-folder (`svc` for classifiers/svc/svm.ts), or `.`. */
function subEntryOf(file: string): string {
  const parts = path.relative(SRC, file).split(path.sep);
  return parts.length > 2 ? parts[1]! : '.';
}

/** Index of the layer holding `name`, failing when no layer lists it. */
function layerIndex(layers: string[][], name: string, where: string): number {
  const layer = layers.findIndex((names) => names.includes(name));
  assert.notEqual(layer, -1, `${where} is in no layer of test/layers.test.ts; add it where it belongs`);
  return layer;
}

function layerOf(file: string): number {
  return layerIndex(LAYERS, entryOf(file), `${path.relative(ROOT, file)}: src/${entryOf(file)}`);
}

function subLayerOf(file: string): number {
  const entry = entryOf(file);
  return layerIndex(SUB_LAYERS[entry]!, subEntryOf(file), `${path.relative(ROOT, file)}: src/${entry}/${subEntryOf(file)}`);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith('.ts') ? [full] : [];
  });
}

/** Relative module specifiers of static imports, re-exports and dynamic imports, resolved to .ts files. */
export function importsOf(file: string, text: string): string[] {
  const specifiers = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm)].map((m) => m[1]!);
  return specifiers.map((s) => path.resolve(path.dirname(file), s).replace(/\.js$/, '.ts'));
}

/** Whether an import from `file` to `target` points to the same folder or a lower layer. */
function pointsDown(file: string, target: string): boolean {
  if (entryOf(target) !== entryOf(file)) return layerOf(target) < layerOf(file);
  if (!SUB_LAYERS[entryOf(file)] || subEntryOf(target) === subEntryOf(file)) return true;
  return subLayerOf(target) < subLayerOf(file);
}

/** The import graph of src/: each file with the files it imports. */
function importGraph(): Map<string, string[]> {
  return new Map(sourceFiles(SRC).map((file) => [file, importsOf(file, readFileSync(file, 'utf8'))]));
}

/**
 * The import circles of a graph: one per group of files that reach each other (Tarjan's strongly
 * connected components), as a path through the group back to its start.
 */
export function importCircles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  const visit = (file: string) => {
    index.set(file, index.size);
    low.set(file, index.get(file)!);
    stack.push(file);
    onStack.add(file);
    for (const next of graph.get(file) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(file, Math.min(low.get(file)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(file, Math.min(low.get(file)!, index.get(next)!));
    }
    if (low.get(file) !== index.get(file)) return;
    const group: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      group.push(member);
    } while (member !== file);
    if (group.length > 1 || graph.get(file)?.includes(file)) circles.push(circleThrough(graph, new Set(group), file));
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return circles;
}

/** A shortest import path from `start` back to itself inside a group of files that reach each other. */
function circleThrough(graph: Map<string, string[]>, group: Set<string>, start: string): string[] {
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const next of graph.get(file) ?? []) {
      if (!group.has(next) || cameFrom.has(next)) continue;
      cameFrom.set(next, file);
      if (next === start) queue.length = 0;
      else queue.push(next);
    }
  }
  const circle = [start];
  for (let at = cameFrom.get(start)!; at !== start; at = cameFrom.get(at)!) circle.unshift(at);
  return [start, ...circle];
}

test('every import in src/ points to the same folder or a lower layer (sub-folders of a layered folder too)', () => {
  const upward: string[] = [];
  for (const [file, targets] of importGraph()) {
    for (const target of targets) if (!pointsDown(file, target)) upward.push(`${path.relative(SRC, file)} → ${path.relative(SRC, target)}`);
  }
  assert.deepEqual(upward, [], `imports that do not point down:\n${upward.join('\n')}`);
});

test('no import circle among the files of src/, type imports included', () => {
  const circles = importCircles(importGraph()).map((c) => c.map((f) => path.relative(SRC, f)).join(' → '));
  assert.deepEqual(circles, [], `import circles:\n${circles.join('\n')}`);
});

test('the circle check finds circles of one, two and more files, and none in a chain', () => {
  const graph = new Map([
    ['a', ['b']],
    ['b', ['c', 'd']],
    ['c', ['a']],
    ['d', []],
    ['e', ['e']],
    ['f', ['g']],
    ['g', ['f', 'd']],
    ['h', ['a']],
  ]);
  assert.deepEqual(importCircles(graph), [['a', 'b', 'c', 'a'], ['e', 'e'], ['f', 'g', 'f']]);
  assert.deepEqual(importCircles(new Map([['a', ['b']], ['b', ['c']], ['c', []]])), []);
});

test('the layer check refuses imports up or across, between sub-folders as between folders', () => {
  const at = (rel: string) => path.join(SRC, rel);
  assert.equal(pointsDown(at('classifiers/svc/svm.ts'), at('classifiers/linalg/gemm.ts')), true);
  assert.equal(pointsDown(at('classifiers/svc/svm.ts'), at('classifiers/svc/libsvm.ts')), true);
  assert.equal(pointsDown(at('classifiers/classifier.ts'), at('classifiers/selection/grid.ts')), true);
  assert.equal(pointsDown(at('classifiers/linear/linear-model.ts'), at('classifiers/parallel/fit-pool.ts')), false, 'up a sub-layer');
  assert.equal(pointsDown(at('classifiers/linear/linear-model.ts'), at('classifiers/svc/svm.ts')), false, 'across a sub-layer');
  assert.equal(pointsDown(at('classifiers/selection/grid.ts'), at('classifiers/classifier.ts')), false, "up to the folder's own files");
  assert.equal(pointsDown(at('classifiers/svc/svm.ts'), at('report/html.ts')), false, 'up a layer');
});

test('the layer check sees static, re-exported and dynamic imports', () => {
  const file = path.join(SRC, 'models', 'x.ts');
  const text = "import { a } from '../engines/a.js';\nexport { b } from './b.js';\nconst c = await import('../pipeline/c.js');\nimport '../util/d.js';\n";
  assert.deepEqual(
    importsOf(file, text).map((t) => path.relative(SRC, t)),
    ['engines/a.ts', 'models/b.ts', 'pipeline/c.ts', 'util/d.ts'],
  );
});

/** The most files a folder of src/ holds before it gets sub-folders by concern. */
const MAX_FILES_PER_FOLDER = 12;

test(`no folder of src/ holds more than ${MAX_FILES_PER_FOLDER} files (a bigger one gets sub-folders by concern)`, () => {
  const crowded = new Map<string, number>();
  for (const file of sourceFiles(SRC)) {
    const dir = path.relative(SRC, path.dirname(file)) || '.';
    crowded.set(dir, (crowded.get(dir) ?? 0) + 1);
  }
  const over = [...crowded].filter(([, count]) => count > MAX_FILES_PER_FOLDER).map(([dir, count]) => `src/${dir}: ${count} files`);
  assert.deepEqual(over, [], `folders to split by concern:\n${over.join('\n')}`);
});

/**
 * The library modules that a script outside src/ (bench/, scripts/) loads from the build, named in
 * either form those scripts use: `path.join(root, 'dist', 'a', 'b.js')` or `'../dist/a/b.js'`.
 */
function distModulesNamedIn(text: string): string[] {
  const joined = [...text.matchAll(/path\.join\(root, 'dist'((?:, '[^']+')+)\)/g)].map((m) =>
    [...m[1].matchAll(/'([^']+)'/g)].map((part) => part[1]).join('/'),
  );
  const relative = [...text.matchAll(/'\.\.\/dist\/([^']+\.js)'/g)].map((m) => m[1]);
  return [...joined, ...relative];
}

test('the library modules that bench/ and scripts/ load exist in src/ (a move of src/ moves them too)', () => {
  const scripts = ['bench', 'scripts'].flatMap((dir) =>
    readdirSync(path.join(ROOT, dir)).filter((name) => name.endsWith('.mjs')).map((name) => path.join(dir, name)),
  );
  const missing = scripts.flatMap((script) =>
    distModulesNamedIn(readFileSync(path.join(ROOT, script), 'utf8'))
      .filter((module) => !existsSync(path.join(SRC, module.replace(/\.js$/, '.ts'))))
      .map((module) => `${script}: dist/${module}`),
  );
  assert.ok(scripts.length > 5, 'bench/ and scripts/ hold scripts');
  assert.deepEqual(missing, [], `modules not in src/:\n${missing.join('\n')}`);
});

test('the script check reads both ways of naming a built module', () => {
  const text = "await import(path.join(root, 'dist', 'pipeline', 'batches', 'batch.js')); await import('../dist/cli.js');";
  assert.deepEqual(distModulesNamedIn(text), ['pipeline/batches/batch.js', 'cli.js']);
});
