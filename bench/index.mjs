#!/usr/bin/env node
// `npm run bench [-- --dir <images>] [--json] [--json-file <f>] [--only engine,train,memory] [--repeat N] [--no-peer]
//   [--train-features <dir>] [--memory-sizes 1000,10000] [--memory-model tiny|resnet50|<model.json>]
//   [--scale-features <train-dir>,<test-dir>] [--scale-sizes 10000,50000] [--scale-c 1] [--scale-scale l2]
//   [--onnx-model <file.onnx>] [--onnx-preprocess caffe|torch|…] [--decoders N] [--decode-processes 1,2,4] [--gpu-model …] [--gpu-dir …] (see bench/gpu.mjs)
//   [--accuracy-dir <dir>] [--accuracy-sets hymenoptera,cifar10-5pct] [--accuracy-modes squash,center-crop,tta,augment]`
// Runs each section, measuring cnnfeat against a baseline in the same run, and prints ratios.
// It never fails because a machine is slow: it reports.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECTIONS = ['engine', 'decode', 'train', 'train-scale', 'memory', 'onnx-model', 'gpu', 'accuracy'];

const { values: args } = parseArgs({
  strict: false,
  options: {
    dir: { type: 'string' },
    json: { type: 'boolean' },
    'json-file': { type: 'string' },
    only: { type: 'string' },
    repeat: { type: 'string' },
    'no-peer': { type: 'boolean' },
    decoders: { type: 'string' },
    'decode-processes': { type: 'string' },
    'train-features': { type: 'string' },
    'memory-sizes': { type: 'string' },
    'memory-model': { type: 'string' },
    'scale-features': { type: 'string' },
    'scale-sizes': { type: 'string' },
    'scale-c': { type: 'string' },
    'scale-scale': { type: 'string' },
    'onnx-model': { type: 'string' },
    'onnx-preprocess': { type: 'string' },
    'gpu-model': { type: 'string' },
    'gpu-preprocess': { type: 'string' },
    'gpu-layer': { type: 'string' },
    'gpu-dir': { type: 'string' },
    'gpu-images': { type: 'string' },
    'gpu-raw-images': { type: 'string' },
    'gpu-equality-model': { type: 'string' },
    'gpu-equality-preprocess': { type: 'string' },
    'gpu-equality-layer': { type: 'string' },
    'gpu-peer': { type: 'string' },
    'gpu-software': { type: 'boolean' },
    'accuracy-dir': { type: 'string' },
    'accuracy-sets': { type: 'string' },
    'accuracy-modes': { type: 'string' },
  },
});
const log = (msg) => process.stderr.write(`bench: ${msg}\n`);
const wanted = args.only ? args.only.split(',') : SECTIONS;

const results = [];
for (const name of wanted) {
  const file = path.join(root, 'bench', `${name}.mjs`);
  if (!existsSync(file)) {
    log(`no section "${name}" (${file})`);
    continue;
  }
  log(`section ${name}`);
  const { bench } = await import(file);
  results.push(await bench({ root, args, log }));
}

if (args['json-file']) await writeFile(args['json-file'], `${JSON.stringify(Object.assign({}, ...results.map((r) => r.json)), null, 2)}\n`);
if (args.json) {
  process.stdout.write(`${JSON.stringify(Object.assign({}, ...results.map((r) => r.json)), null, 2)}\n`);
} else {
  for (const { title, rows } of results) {
    const width = Math.max(...rows.map(([label]) => label.length));
    const body = rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}\n`).join('');
    process.stdout.write(`\n${title}\n${body}`);
  }
}
