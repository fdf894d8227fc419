// Issue 19, feeding side: decoding in decoder processes (several decodes in flight, in processes
// that end with the job), skips per file through them, predict on extract's batch loop, and the
// choice of applying embedded ICC profiles.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { promises as fsp, rmSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import sharp from 'sharp';
import { pathToFileURL } from 'node:url';
import { DecodePool } from '../dist/image/decode-pool.js';
import { CnnfeatError } from '../dist/errors.js';
import type { DecodeOptions } from '../dist/image/decode.js';
import type { DecodeSpan } from '../dist/image/decoder.js';
import { settingsFromDisk, type ExtractSettings } from '../dist/features/schema.js';
import { makeCorpus } from './corpus.js';
import { CLI, ROOT, fileTempDir, json, makeColourDataset, makeTinyModel, manifestOf, runCli, running, writeImage, type ExtractJson } from './helpers.js';

let work: string;
let model: string;
before(async () => {
  work = await fileTempDir('cnnfeat-decode-pool-');
  model = await makeTinyModel(path.join(work, 'tiny'));
});

const tiny = () => ['--model', model, '--preprocess', 'none', '--quiet'];
const GEOMETRY: DecodeOptions = { width: 224, height: 224, resize: 'squash', kernel: 'linear' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The most spans open at one time. */
function peakOverlap(spans: DecodeSpan[]): number {
  const events = spans.flatMap((s) => [[s.startedAt, 1] as const, [s.finishedAt, -1] as const]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let peak = 0;
  for (const [, step] of events) peak = Math.max(peak, (open += step));
  return peak;
}

/** `count` noisy JPEGs of `size`² (a few tens of ms each to decode) under `dir`. */
async function photos(dir: string, count: number, size = 1200): Promise<string[]> {
  const files = Array.from({ length: count }, (_, i) => path.join(dir, `p${String(i).padStart(3, '0')}.jpg`));
  for (const [i, file] of files.entries()) await writeImage(file, { width: size, height: size, rgb: [40 + i, 120, 200 - i], seed: i });
  return files;
}

test('decode pool: 3 processes decoding 2 images each have more than 4 decodes in flight at once, none in this process', async () => {
  const files = await photos(path.join(work, 'photos'), 36);
  const pool = new DecodePool({ processes: 3, perProcess: 2 });
  try {
    assert.equal(pool.concurrency, 6);
    await pool.decodeFiles(files.slice(0, 6), GEOMETRY); // every process started
    const decoded = await pool.decodeFiles(files, GEOMETRY);
    assert.equal(decoded.ok.length, files.length);
    assert.ok(decoded.pixels.every((p) => p.length === 224 * 224 * 3));
    const pids = new Set(decoded.spans.map((s) => s.pid));
    assert.deepEqual([...pids].sort(), [...pool.pids].sort(), 'every decoder process decoded');
    assert.equal(pids.size, 3);
    assert.ok(!pids.has(process.pid), 'nothing was decoded in this process');
    const peak = peakOverlap(decoded.spans);
    assert.ok(peak > 4, `at most ${peak} decodes in flight at once`);
    // The pixels are the ones this process decodes.
    const { decodeImage } = await import('../dist/image/decode.js');
    assert.ok(decoded.pixels[7]!.equals(await decodeImage(files[7]!, GEOMETRY)));
    const stats = await pool.stats();
    assert.equal(stats.processes, 3);
    assert.ok(stats.cpuMs !== null && stats.cpuMs > 0, 'the decoders report their CPU time');
  } finally {
    await pool.close();
  }
});

/** Whether a thread of process `pid` waits to open a FIFO (Linux /proc). */
async function blockedOnFifo(pid: number): Promise<boolean> {
  const tasks = await fsp.readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  const waits = await Promise.all(tasks.map((t) => fsp.readFile(`/proc/${pid}/task/${t}/wchan`, 'utf8').catch(() => '')));
  return waits.includes('wait_for_partner');
}

test('decode pool: a decoder process that dies is replaced and its images decoded again, an image that ends two decoders is skipped, an unreadable file rejects with its system error', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const files = await photos(path.join(work, 'photos-kill'), 12, 1600);
  const pool = new DecodePool({ processes: 2 });
  try {
    await pool.decodeFiles(files.slice(0, 2), GEOMETRY);
    const [victim] = pool.pids;
    const decoding = pool.decodeFiles(files, GEOMETRY);
    await sleep(20);
    process.kill(victim!, 'SIGKILL');
    const decoded = await decoding;
    assert.equal(decoded.ok.length, files.length, JSON.stringify(decoded.failed));
    assert.ok(!pool.pids.includes(victim!), 'the dead process is gone from the pool');
    assert.equal(pool.pids.length, 2, 'and replaced');
    assert.equal((await pool.stats()).restarts, 1);
    const missing = path.join(work, 'no-such-file.jpg');
    await assert.rejects(pool.decodeFiles([files[0]!, missing], GEOMETRY), (err: NodeJS.ErrnoException) => err.code === 'ENOENT' && err.path === missing && err.syscall === 'open');
  } finally {
    await pool.close();
  }
  assert.deepEqual(pool.pids, [], 'closed: no decoder process left');

  // A file whose decoding never ends (a FIFO no one writes to) in the one decoder process, with
  // another image beside it: the decoder is killed; each image is tried again alone in a new one;
  // that decoder is killed too: the FIFO is skipped, the other image decoded.
  const fifo = path.join(work, 'never.jpg');
  execFileSync('mkfifo', [fifo]);
  const single = new DecodePool({ processes: 1 });
  try {
    let settled = false;
    const decoding = single.decodeFiles([fifo, files[0]!, files[1]!], GEOMETRY).finally(() => (settled = true));
    while (!settled) {
      for (const pid of single.pids) if (await blockedOnFifo(pid)) process.kill(pid, 'SIGKILL');
      await sleep(10);
    }
    const decoded = await decoding;
    assert.deepEqual(decoded.ok, [1, 2]);
    assert.equal(decoded.failed.length, 1);
    assert.match(decoded.failed[0]!.reason, /^its decoding ended the decoder process twice \(killed by SIGKILL\)$/);
    assert.equal((await single.stats()).restarts, 2);
  } finally {
    await single.close();
  }
});

/**
 * Runs `body` (an ES module's code) in a node process of its own, started by bash after `limits`
 * (e.g. `ulimit -f 16`). In scope: `DecodePool`, `GEOMETRY`, `image` (a photo), `fs`, `os` and
 * `childProcess` (node:fs, node:os, node:child_process), and `patch(module, name, fn)`, which replaces one
 * of their functions for the pool's imports too. Its exit code and output; code null when it had
 * not ended after `ms` (it is then killed).
 */
async function inOwnProcess(body: string, { limits = 'true', ms = 20_000 } = {}): Promise<{ code: number | null; out: string }> {
  const [image] = await photos(path.join(work, 'own-process'), 1, 300);
  const script = `
    import fs from 'node:fs';
    import os from 'node:os';
    import childProcess from 'node:child_process';
    import { syncBuiltinESMExports } from 'node:module';
    import { DecodePool } from ${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist', 'image', 'decode-pool.js')).href)};
    const GEOMETRY = ${JSON.stringify(GEOMETRY)};
    const image = ${JSON.stringify(image)};
    const patch = (module, name, fn) => { module[name] = fn; syncBuiltinESMExports(); };
    ${body}`;
  const child = spawn('bash', ['-c', `${limits} && exec "$0" --input-type=module -e "$1"`, process.execPath, script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, out };
}

/** Code for inOwnProcess: `patch`es `module.name` so that its `count`-th call (and, with `andLater`, each one after) on a decoder's pixel file fails with `code`. */
function failOnSlots(module: string, name: string, code: string, count = 1, andLater = true): string {
  return `{
    const real = ${module}.${name};
    let calls = 0;
    patch(${module}, '${name}', (file, ...rest) => {
      if (String(file).includes('cnnfeat-decode-') && (++calls === ${count} || (${andLater} && calls > ${count}))) throw Object.assign(new Error('${code}: refused by the test'), { code: '${code}', syscall: '${name}' });
      return real(file, ...rest);
    });
  }`;
}

test('decode pool failures are one-line errors: a closed pool, decoder processes that keep ending, a pixel file that cannot be written', async () => {
  // Fails without these fixes: plain Errors; an image's own error for the pixel file.
  const closed = new DecodePool({ processes: 1 });
  await closed.close();
  await assert.rejects(closed.decodeFiles([path.join(work, 'any.jpg')], GEOMETRY), (err) => err instanceof CnnfeatError && /^the decode pool is closed; /.test(err.message));

  const dying = await inOwnProcess(`
    patch(childProcess, 'spawn', ((spawn) => (command, args, options) => spawn(command, ['-e', 'process.exit(3)'], options))(childProcess.spawn));
    const pool = new DecodePool({ processes: 1 });
    for (let i = 0; i < 20; i++) {
      const error = await pool.decodeFiles([image], GEOMETRY).then(() => null, (err) => err);
      if (error) {
        console.log(error.name + ': ' + error.message);
        break;
      }
    }
    await pool.close();`);
  assert.equal(dying.code, 0, dying.out);
  assert.equal(dying.out.trim(), 'CnnfeatError: decoder processes keep ending (4 in a row, the last: exit code 3); decode in this process instead (decoders=0)');

  if (process.platform !== 'linux') return; // ulimit -f
  const full = await inOwnProcess(`
    const pool = new DecodePool({ processes: 1 });
    await pool.decodeFiles([image], GEOMETRY).catch((err) => console.log(err.name + ': ' + err.message));
    await pool.close();`, { limits: 'ulimit -f 16' });
  assert.equal(full.code, 0, full.out);
  assert.match(full.out.trim(), /^CnnfeatError: \/\S+\/cnnfeat-decode-\d+-0: a decoder process cannot write decoded pixels into this pixel file \(EFBIG: file too large, write\); (give \/dev\/shm more room \(e\.g\. docker run --shm-size=1g\)|make room in \S+ or set TMPDIR to a folder with room), or decode in this process \(decoders=0\)$/);
});

test('decode pool start-up failures: processes already started end with the error, a pixel file not unlinked is removed, a replacement that cannot start fails the pool', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  // The third decoder's pixel file cannot be made: without the fix, the two started keep the process alive.
  const third = await inOwnProcess(`
    ${failOnSlots('fs', 'openSync', 'EMFILE', 3)}
    try {
      new DecodePool({ processes: 4 });
    } catch (err) {
      console.log(err.name + ': ' + err.message);
    }`, { ms: 10_000 });
  assert.equal(third.code, 0, `still running 10 s after the error: ${third.out}`);
  assert.match(third.out.trim(), /^CnnfeatError: \S+: cannot make the decoders' pixel file there \(EMFILE: refused by the test\); set TMPDIR to a writable folder, or decode in this process \(decoders=0\)$/);

  // Unlinking fails (once: removing it then works): without the fix, its descriptor stays open and the file stays.
  const unlinked = await inOwnProcess(`
    ${failOnSlots('fs', 'unlinkSync', 'EPERM', 1, false)}
    const fds = () => fs.readdirSync('/proc/self/fd').length;
    const mine = () => ['/dev/shm', os.tmpdir()].flatMap((d) => { try { return fs.readdirSync(d); } catch { return []; } }).filter((f) => f.startsWith('cnnfeat-decode-' + process.pid + '-'));
    const before = fds();
    const error = (() => {
      try {
        new DecodePool({ processes: 1 });
      } catch (err) {
        return err.name;
      }
    })();
    console.log(JSON.stringify({ error, fds: fds() - before, files: mine() }));`);
  assert.equal(unlinked.code, 0, unlinked.out);
  assert.equal(unlinked.out.trim(), '{"error":"CnnfeatError","fds":0,"files":[]}');

  // A decoder dies and its replacement's pixel file cannot be made: without the fix, the error is thrown in the child's 'close' handler and ends the process.
  const replaced = await inOwnProcess(`
    const pool = new DecodePool({ processes: 1 });
    await pool.decodeFiles([image], GEOMETRY);
    ${failOnSlots('fs', 'openSync', 'EMFILE')}
    process.kill(pool.pids[0], 'SIGKILL');
    const error = await pool.decodeFiles([image], GEOMETRY).then(() => null, (err) => err);
    console.log(error ? error.name + ': ' + error.message : 'decoded');
    const later = await pool.decodeFiles([image], GEOMETRY).then(() => null, (err) => err);
    console.log(later === error ? 'the same error later' : 'another outcome later: ' + later);
    await pool.close();`);
  assert.equal(replaced.code, 0, replaced.out);
  assert.match(replaced.out.trim(), /^CnnfeatError: \S+: cannot make the decoders' pixel file there \(EMFILE: refused by the test\); set TMPDIR to a writable folder, or decode in this process \(decoders=0\)\nthe same error later$/);
});

test('skips per file through decoder processes: the corpus of broken files gives the rows, reasons and bytes of decoding in this process', async () => {
  const root = path.join(work, 'corpus');
  await makeCorpus(root);
  const outs = { inProcess: path.join(work, 'corpus-0'), pool: path.join(work, 'corpus-2') };
  for (const [name, decoders] of [['inProcess', '0'], ['pool', '2']] as const) {
    const r = await runCli(['extract', root, '-o', outs[name], '--batch-size', '3', '--decoders', decoders, ...tiny()]);
    assert.equal(r.code, 0, r.stderr);
  }
  const [a, b] = [await manifestOf(outs.inProcess), await manifestOf(outs.pool)];
  assert.equal(a.timings.stages?.threads.decoderProcesses, 0);
  assert.equal(b.timings.stages?.threads.decoderProcesses, 2);
  assert.ok(b.skipped.length >= 4);
  assert.deepEqual(b.skipped, a.skipped, 'the same files skipped, for the same reasons');
  for (const file of ['features.npy', 'samples.csv']) {
    assert.ok((await fsp.readFile(path.join(outs.pool, file))).equals(await fsp.readFile(path.join(outs.inProcess, file))), file);
  }
});

/** Those of `pids` still running. */
async function runningOf(pids: number[]): Promise<number[]> {
  const alive = await Promise.all(pids.map(running));
  return pids.filter((_, i) => alive[i]);
}

/** Process ids of `pid`'s children running `decode-process.js` (Linux /proc). */
async function decoderChildren(pid: number): Promise<number[]> {
  const tasks = await fsp.readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  const children = (await Promise.all(tasks.map((t) => fsp.readFile(`/proc/${pid}/task/${t}/children`, 'utf8').catch(() => '')))).join(' ').split(/\s+/).filter(Boolean).map(Number);
  const cmdlines = await Promise.all(children.map((c) => fsp.readFile(`/proc/${c}/cmdline`, 'utf8').catch(() => '')));
  return children.filter((_, i) => cmdlines[i]!.includes('decode-process.js'));
}

test('decoder processes end with the job: SIGKILL, SIGTERM, and SIGINT to the whole process group (as Ctrl-C sends it) leave none behind', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const images = path.join(work, 'many');
  for (let i = 0; i < 400; i++) await writeImage(path.join(images, i % 2 ? 'a' : 'b', `${String(i).padStart(3, '0')}.png`), { width: 24, height: 24, rgb: [i % 256, 90, 40], seed: i, format: 'png' });
  const reference = path.join(work, 'many-ref');
  assert.equal((await runCli(['extract', images, '-o', reference, '--batch-size', '2', '--decoders', '0', ...tiny()])).code, 0);
  for (const signal of ['SIGKILL', 'SIGTERM', 'SIGINT'] as const) {
    const out = path.join(work, `many-${signal}`);
    // Its own process group, as a shell gives a command it starts in the foreground.
    const child = spawn(process.execPath, [CLI, 'extract', images, '-o', out, '--batch-size', '2', '--decoders', '2', ...tiny()], { cwd: ROOT, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, sig) => resolve({ code, signal: sig })));
    let decoders: number[] = [];
    for (let tries = 0; decoders.length < 2; tries++) {
      assert.ok(tries < 3000 && child.exitCode === null, `no decoder processes seen before the end: ${stderr}`);
      decoders = await decoderChildren(child.pid!);
      await sleep(10);
    }
    if (signal === 'SIGINT') process.kill(-child.pid!, 'SIGINT');
    else child.kill(signal);
    const end = await exited;
    if (signal === 'SIGKILL') assert.equal(end.signal, 'SIGKILL');
    else assert.equal(end.code, signal === 'SIGTERM' ? 143 : 130, stderr);
    for (let tries = 0; (await runningOf(decoders)).length > 0; tries++) {
      if (tries === 500) {
        const left = await runningOf(decoders);
        for (const pid of left) process.kill(pid, 'SIGKILL'); // not to hang the test run on the pipes they hold
        assert.fail(`decoder processes ${left.join(', ')} outlived the job (${signal})`);
      }
      await sleep(10);
    }
    const resumed = await runCli(['extract', images, '-o', out, '--batch-size', '2', '--decoders', '2', '--resume', ...tiny()]);
    assert.equal(resumed.code, 0, resumed.stderr);
    for (const file of ['features.npy', 'samples.csv']) {
      assert.ok((await fsp.readFile(path.join(out, file))).equals(await fsp.readFile(path.join(reference, file))), `${file} after ${signal} and --resume`);
    }
  }
});

/**
 * An environment under which every node process notes which script it runs: `env()` (a new
 * record each time) and how many decoder processes the last command so started.
 */
async function noteStarts(tag: string): Promise<{ env: () => NodeJS.ProcessEnv; decodersStarted: () => Promise<number> }> {
  const started = path.join(work, `started-${tag}.txt`);
  const preload = path.join(work, `note-start-${tag}.cjs`);
  await fsp.writeFile(preload, `require('fs').appendFileSync(${JSON.stringify(started)}, process.argv[1] + '\\n');\n`);
  return {
    env: () => {
      rmSync(started, { force: true });
      return { NODE_OPTIONS: `--require ${preload}` };
    },
    decodersStarted: async () => (await fsp.readFile(started, 'utf8').catch(() => '')).split('\n').filter((l) => l.endsWith('decode-process.js')).length,
  };
}

test('run starts its decoder processes once for the train and the test extraction, each manifest counting its own decoding', async () => {
  const data = path.join(work, 'run-data');
  await makeColourDataset(data, { perClass: 6, split: 'train' });
  await makeColourDataset(data, { perClass: 3, split: 'test', start: 50 });
  const { env, decodersStarted } = await noteStarts('run');
  const out = path.join(work, 'run-out');
  const r = await runCli(['run', data, '-o', out, '--decoders', '2', '--batch-size', '2', '--no-report', '--classifier', 'svc', '--kernel', 'linear', '--C', '1', ...tiny()], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await decodersStarted(), 2);
  const [train, testSide] = [(await manifestOf(path.join(out, 'train'))).timings.stages!, (await manifestOf(path.join(out, 'test'))).timings.stages!];
  assert.equal(train.threads.decoderProcesses, 2);
  assert.equal(testSide.threads.decoderProcesses, 2);
  if (process.platform === 'linux') assert.ok(testSide.cpu!.decoders! > 0 && testSide.cpu!.decoders! < train.cpu!.decoders!, `the test side's 6 images cost less than the train side's 12: ${testSide.cpu!.decoders} vs ${train.cpu!.decoders}`);
});

test('predict runs on extract\'s batch loop: rows stay with their files across batches, decoder processes and a broken file', async () => {
  const data = await makeColourDataset(path.join(work, 'colours'), { perClass: 6 });
  const feats = path.join(work, 'colours-feat');
  assert.equal((await runCli(['extract', data, '-o', feats, ...tiny()])).code, 0);
  const clf = path.join(work, 'colours-clf.json');
  assert.equal((await runCli(['train', feats, '-o', clf, '--classifier', 'svc', '--kernel', 'linear', '--C', '1', '--quiet'])).code, 0);
  const inputs = path.join(work, 'to-predict');
  await makeColourDataset(inputs, { perClass: 4, start: 50 });
  await fsp.writeFile(path.join(inputs, 'blue', 'img051b.jpg'), 'not an image');
  type Prediction = { path: string; label?: string; score?: number; error?: string };
  const { env, decodersStarted } = await noteStarts('predict');
  const predict = async (...more: string[]) => {
    const r = await runCli(['predict', clf, inputs, '--json', '--quiet', ...more], { env: env() });
    assert.equal(r.code, 2, r.stderr); // one file could not be decoded
    return JSON.parse(r.stdout) as Prediction[];
  };
  const pooled = await predict('--batch-size', '2', '--decoders', '2');
  assert.equal(await decodersStarted(), 2, 'predict decoded in 2 decoder processes');
  assert.equal(pooled.length, 9);
  assert.match(pooled.find((p) => p.path.endsWith('img051b.jpg'))?.error ?? '', /unsupported image format|not an image|bad seek|Input/i);
  assert.deepEqual(pooled.filter((p) => p.label).map((p) => p.label), pooled.filter((p) => p.label).map((p) => (p.path.includes('/red/') ? 'red' : 'blue')));
  // One image at a time, in this process: the same predictions and scores.
  assert.deepEqual(await predict('--batch-size', '1', '--decoders', '0'), pooled);
  assert.equal(await decodersStarted(), 0);
  assert.deepEqual(await predict('--batch-size', '3', '--decoders', '1'), pooled);
});

test('--icc: an embedded profile is ignored by default (the stored values, as PIL reads them) and applied with --icc apply; the choice is a feature setting', async () => {
  // sRGB red converted to Display P3, stored with the P3 profile: applying it gives the red back.
  const [w, h] = [32, 32];
  const red = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) red.set([220, 30, 30], i * 3);
  const stored = await sharp(red, { raw: { width: w, height: h, channels: 3 } }).withIccProfile('p3').raw().toBuffer();
  const images = path.join(work, 'icc');
  await fsp.mkdir(path.join(images, 'a'), { recursive: true });
  await fsp.mkdir(path.join(images, 'b'), { recursive: true });
  const file = path.join(images, 'a', 'p3.png');
  await sharp(red, { raw: { width: w, height: h, channels: 3 } }).withIccProfile('p3').png().toFile(file);
  assert.ok((await sharp(file).metadata()).icc, 'the fixture carries a profile');
  await writeImage(path.join(images, 'b', 'plain.png'), { width: w, height: h, format: 'png' });
  const { decodeImage } = await import('../dist/image/decode.js');
  const at = (px: Buffer) => Array.from(px.subarray(0, 3));
  const small: DecodeOptions = { width: 8, height: 8, resize: 'squash', kernel: 'linear' };
  assert.ok(Math.abs(stored[0]! - 220) + Math.abs(stored[1]! - 30) > 20, `P3 stores other values (${Array.from(stored.subarray(0, 3))})`);
  assert.deepEqual(at(await decodeImage(file, small)), Array.from(stored.subarray(0, 3)), 'default: the stored values');
  assert.deepEqual(at(await decodeImage(file, { ...small, icc: 'ignore' })), Array.from(stored.subarray(0, 3)));
  const applied = at(await decodeImage(file, { ...small, icc: 'apply' }));
  assert.ok(applied.every((v, c) => Math.abs(v - [220, 30, 30][c]!) <= 2), `applied: back to sRGB red, got ${applied}`);

  const outs = { ignore: path.join(work, 'icc-ignore'), apply: path.join(work, 'icc-apply') };
  json<ExtractJson>(await runCli(['extract', images, '-o', outs.ignore, '--json', '--decoders', '1', ...tiny()]));
  json<ExtractJson>(await runCli(['extract', images, '-o', outs.apply, '--json', '--decoders', '1', '--icc', 'apply', ...tiny()]));
  assert.equal((await manifestOf(outs.ignore)).settings.icc, 'ignore');
  assert.equal((await manifestOf(outs.apply)).settings.icc, 'apply');
  const rowsOf = async (dir: string) => (await fsp.readFile(path.join(dir, 'features.npy'))).subarray(128);
  const [ri, ra] = [await rowsOf(outs.ignore), await rowsOf(outs.apply)];
  assert.ok(!ri.subarray(0, 32).equals(ra.subarray(0, 32)), 'the profiled image gives other features');
  assert.ok(ri.subarray(32).equals(ra.subarray(32)), 'the image without a profile gives the same features');
  // Rows made one way never join rows made the other way.
  const update = await runCli(['extract', images, '-o', outs.apply, '--update', ...tiny()]);
  assert.equal(update.code, 2);
  assert.match(update.stderr, /made with icc apply \(now ignore\); add --icc apply to /);
  // Feature directories and classifiers written before the choice existed applied profiles.
  const old = { ...(await manifestOf(outs.apply)).settings } as Partial<ExtractSettings>;
  delete old.icc;
  assert.equal(settingsFromDisk(old as ExtractSettings).icc, 'apply');
});
