// The library's modules form layers: a module imports from its own folder or from folders below it,
// never from above, so that each folder can be read (and reused) without the ones above it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
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

const SRC = path.join(ROOT, 'src');

/** The top-level entry of src/ a file belongs to (`models` for src/models/card.ts). */
function entryOf(file: string): string {
  return path.relative(SRC, file).split(path.sep)[0]!;
}

function layerOf(file: string): number {
  const entry = entryOf(file);
  const layer = LAYERS.findIndex((names) => names.includes(entry));
  assert.notEqual(layer, -1, `${path.relative(ROOT, file)}: src/${entry} is in no layer of test/layers.test.ts; add it where it belongs`);
  return layer;
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

test('every import in src/ points to the same folder or a lower layer', () => {
  const upward: string[] = [];
  for (const file of sourceFiles(SRC)) {
    for (const target of importsOf(file, readFileSync(file, 'utf8'))) {
      if (entryOf(target) === entryOf(file)) continue;
      if (layerOf(target) >= layerOf(file)) upward.push(`${path.relative(SRC, file)} → ${path.relative(SRC, target)}`);
    }
  }
  assert.deepEqual(upward, [], `imports that do not point down:\n${upward.join('\n')}`);
});

test('the layer check sees static, re-exported and dynamic imports', () => {
  const file = path.join(SRC, 'models', 'x.ts');
  const text = "import { a } from '../engines/a.js';\nexport { b } from './b.js';\nconst c = await import('../pipeline/c.js');\nimport '../util/d.js';\n";
  assert.deepEqual(
    importsOf(file, text).map((t) => path.relative(SRC, t)),
    ['engines/a.ts', 'models/b.ts', 'pipeline/c.ts', 'util/d.ts'],
  );
});
