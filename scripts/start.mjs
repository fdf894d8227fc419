#!/usr/bin/env node
// `npm start`: builds dist/ when it is missing or older than the sources, then runs the main job,
// `cnnfeat run`, on the CIFAR-10 sample of examples/ into out/cifar10-sample (arguments after
// `npm start --` are added to it). Run again, it reuses the features (--resume) and trains anew.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const SAMPLE = path.join('examples', 'cifar10-sample');
const OUT = path.join('out', 'cifar10-sample');

/** Modification times (ms) of the files under `dir`, or of `dir` itself when it is a file. */
function mtimes(dir) {
  const stat = statSync(dir);
  if (!stat.isDirectory()) return [stat.mtimeMs];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => mtimes(path.join(dir, e.name)));
}

/** Whether dist/ is missing or any source is newer than its oldest file. */
function needsBuild() {
  if (!existsSync(path.join('dist', 'cli.js'))) return true;
  return Math.max(...mtimes('src'), ...mtimes('tsconfig.json')) > Math.min(...mtimes('dist'));
}

if (needsBuild()) {
  process.stderr.write('Building dist/ (npm run build)…\n');
  // npm's own entry point when npm started this script, else the npm on the PATH.
  const npm = process.env.npm_execpath;
  const build = npm ? spawnSync(process.execPath, [npm, 'run', '-s', 'build'], { stdio: 'inherit' }) : spawnSync('npm', ['run', '-s', 'build'], { stdio: 'inherit', shell: process.platform === 'win32' });
  if (build.status !== 0) {
    process.stderr.write(`cnnfeat: the build failed (exit ${build.status ?? build.signal}); see the TypeScript errors above\n`);
    process.exit(build.status || 1);
  }
}

/**
 * The output folder of cnnfeat arguments: the last one given (`-o dir`, `-odir`, `--output dir`,
 * `--output=dir`), as commander takes a repeated option.
 */
function outputOf(args) {
  let out;
  for (let i = 0; i < args.length && args[i] !== '--'; i++) {
    const arg = args[i];
    if (arg === '-o' || arg === '--output') out = args[++i];
    else if (arg.startsWith('--output=')) out = arg.slice('--output='.length);
    else if (arg.startsWith('-o')) out = arg.slice(2);
  }
  return out;
}

const extra = process.argv.slice(2);
const args = ['run', SAMPLE, '-o', OUT, '--resume', ...extra];
// A later -o given after `npm start --` wins, as for any repeated option.
const out = outputOf(args);
process.stderr.write(`cnnfeat ${args.join(' ')}\n`);
const { main } = await import(new URL('../dist/cli.js', import.meta.url).href);
const code = await main(['node', 'cnnfeat', ...args]);
if (code === 0 && !extra.includes('--json') && !extra.includes('--no-report')) {
  process.stdout.write(`\nOpen ${path.join(out, 'report.html')} in a browser. On your own images: npx cnnfeat run <folder> -o <out> (docs/datasets.md).\n`);
}
process.exitCode = code;
