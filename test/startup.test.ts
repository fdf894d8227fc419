// Start-up: commands that need no image, model or download (help, version, option errors,
// `models list`) load none of the heavy packages, so they answer at about bare Node's speed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT, tempDir } from './helpers.js';

/** Packages that cost start-up time and are only needed once a command does real work. */
const HEAVY = ['sharp', '@tensorflow/tfjs', '@tensorflow/tfjs-core', 'onnxruntime-node', 'onnx-proto', 'libsvm-js', 'pacote', 'tar', 'fast-glob', 'https-proxy-agent', 'cli-progress'];

/** Runs the CLI in a child process and returns the npm packages it loaded, and its exit code. */
function packagesLoadedBy(args: string[], env: NodeJS.ProcessEnv = {}): { code: number; packages: string[] } {
  const script = `
    import { createRequire } from 'node:module';
    const Module = createRequire(import.meta.url)('node:module');
    const { main } = await import(${JSON.stringify(path.join(ROOT, 'dist', 'cli.js'))});
    const code = await main(['node', 'cnnfeat', ...${JSON.stringify(args)}]);
    const names = Object.keys(Module._cache).map((k) => (/node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(k) ?? [])[1]).filter(Boolean);
    process.stderr.write('\\nLOADED ' + JSON.stringify({ code, packages: [...new Set(names)] }) + '\\n');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  const line = r.stderr.split('\n').find((l) => l.startsWith('LOADED '));
  assert.ok(line, `no report from the child: ${r.stderr}`);
  return JSON.parse(line.slice('LOADED '.length)) as { code: number; packages: string[] };
}

test('--help, --version, an option error and models list load no image, inference or download package', async (t) => {
  const cache = await tempDir(t);
  for (const [args, code] of [[['--help'], 0], [['--version'], 0], [['extract', '--no-such-option'], 2], [['train', '--help'], 0], [['models', 'list'], 0]] as const) {
    const got = packagesLoadedBy([...args], { CNNFEAT_CACHE: cache });
    assert.equal(got.code, code, args.join(' '));
    assert.deepEqual(got.packages.filter((p) => HEAVY.includes(p)), [], `cnnfeat ${args.join(' ')} loaded heavy packages`);
  }
});

test('the start-up check sees packages a command loads', () => {
  const got = packagesLoadedBy(['info', '--json']);
  assert.equal(got.code, 0);
  assert.ok(got.packages.includes('sharp') && got.packages.includes('onnxruntime-node'), got.packages.join(' '));
});
