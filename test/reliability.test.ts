// Kills at several points, the output-directory lock, and write errors (a file-size limit as a
// stand-in for a full disk): the output stays resumable and ends byte-identical to one clean run.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import type { LockHolder } from '../dist/util/lock.js';
import { CLI, ROOT, fileTempDir, json, lastLine, makeTinyModel, readJson, runCli, running, startCli, writeImage, type ExtractJson } from './helpers.js';

let work: string;
let model: string;
let images: string;
const TOTAL = 120;

before(async () => {
  work = await fileTempDir('cnnfeat-reliability-');
  model = await makeTinyModel(path.join(work, 'tiny'));
  images = path.join(work, 'images');
  for (let i = 0; i < TOTAL; i++) {
    await writeImage(path.join(images, i % 3 ? 'a' : 'b', `${String(i).padStart(3, '0')}.png`), { width: 24, height: 24, rgb: [i * 2, 255 - i, 90], seed: i, format: 'png' });
  }
  assert.equal((await runCli(args(path.join(work, 'ref')))).code, 0);
});

const args = (out: string, m = model) => ['extract', images, '-o', out, '--batch-size', '2', '--model', m, '--preprocess', 'none', '--quiet'];
/** The checkpoint of an extraction (`.cnnfeat-progress.json`), as far as these tests read it. */
interface Checkpoint {
  rows: number;
  next: number;
}
const read = <T>(file: string) => readJson<T>(file).catch(() => null);
const progressOf = (out: string) => read<Checkpoint>(path.join(out, '.cnnfeat-progress.json'));
const present = (file: string) => fsp.access(file).then(() => true, () => false);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function assertSameFiles(out: string, reference: string, what: string): Promise<void> {
  for (const name of ['features.npy', 'samples.csv']) {
    assert.ok((await fsp.readFile(path.join(out, name))).equals(await fsp.readFile(path.join(reference, name))), `${name} ${what}`);
  }
}

/**
 * Steps a running child with SIGSTOP/SIGCONT and checks `reached` on the frozen output folder
 * each time; kills it with SIGKILL in the first state where it holds. False if the child ended first.
 */
async function killWhen(child: ReturnType<typeof startCli>, reached: () => Promise<boolean>): Promise<boolean> {
  const exited = new Promise((resolve) => child.on('exit', resolve));
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    child.kill('SIGSTOP');
    if (await reached()) {
      child.kill('SIGKILL');
      await exited;
      return true;
    }
    child.kill('SIGCONT');
    await sleep(1);
  }
}

test('kill -9 before the first checkpoint, mid-run, and while finishing; --resume equals an uninterrupted run', async (t) => {
  const reference = path.join(work, 'ref');
  const points: Record<string, (out: string) => Promise<boolean>> = {
    'plan written, no row checkpointed yet': async (out) =>
      (await present(path.join(out, '.cnnfeat-plan.json'))) && ((await progressOf(out))?.rows ?? 0) === 0,
    'mid-run (40 rows checkpointed)': async (out) => ((await progressOf(out))?.rows ?? 0) >= 40,
    'finishing: every row checkpointed, manifest not yet written': async (out) =>
      ((await progressOf(out))?.next ?? 0) === TOTAL && !(await present(path.join(out, 'manifest.json'))),
    'finishing: manifest written, checkpoint files not yet removed': async (out) =>
      (await present(path.join(out, 'manifest.json'))) && (await present(path.join(out, '.cnnfeat-plan.json'))),
  };
  let n = 0;
  for (const [point, reached] of Object.entries(points)) {
    let hit = false;
    let out = '';
    for (let attempt = 0; attempt < 5 && !hit; attempt++) {
      out = path.join(work, `killed-${n++}`);
      hit = await killWhen(startCli(args(out)), () => reached(out));
    }
    if (!hit) {
      assert.ok(point.startsWith('finishing'), `the wide window "${point}" must be reached`);
      // The finishing windows last a few milliseconds; on a busy machine stepping may miss them.
      t.diagnostic(`not reached in 5 attempts: ${point}`);
      continue;
    }
    t.diagnostic(`killed at: ${point}`);
    const resumed = await runCli([...args(out), '--resume', '--json']);
    assert.equal(resumed.code, 0, `${point}: ${resumed.stderr}`);
    assert.equal(json<ExtractJson>(resumed).rows, TOTAL);
    await assertSameFiles(out, reference, `after a kill at: ${point}`);
    assert.ok(!(await present(path.join(out, '.cnnfeat-lock'))), 'lock released');
  }
});

test('lock: a second process refuses at once naming the holder; a dead holder is taken over; released on interrupt', async () => {
  const reference = path.join(work, 'ref');
  const out = path.join(work, 'locked');
  const first = startCli(args(out));
  const exited = new Promise((resolve) => first.on('exit', resolve));
  for (;;) {
    assert.equal(first.exitCode, null, 'the first extraction ended too early');
    if (((await progressOf(out))?.rows ?? 0) >= 2) break;
    await sleep(2);
  }
  first.kill('SIGSTOP'); // holds the lock while the other commands try
  const holder = await read<LockHolder>(path.join(out, '.cnnfeat-lock'));
  assert.equal(holder?.pid, first.pid);
  assert.equal(holder?.host, os.hostname());
  assert.equal(holder?.command, 'extract');
  for (const extra of [[], ['--resume'], ['--overwrite'], ['--update']]) {
    const second = await runCli([...args(out), ...extra]);
    assert.equal(second.code, 2, second.stderr);
    assert.equal(second.stderr.trim().split('\n').length, 1, second.stderr);
    assert.match(second.stderr, new RegExp(`is in use by process ${first.pid} on this machine \\(extract, started .*\\); wait for it, or if it is gone remove .*\\.cnnfeat-lock`));
  }
  first.kill('SIGKILL');
  await exited;
  assert.ok(await present(path.join(out, '.cnnfeat-lock')), 'a killed process leaves its lock');
  const resumed = await runCli([...args(out), '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, new RegExp(`warning: .*\\.cnnfeat-lock: taking over the lock of process ${first.pid} on .* \\(extract, started .*\\), which no longer runs`));
  await assertSameFiles(out, reference, 'after taking over a stale lock');
  assert.ok(!(await present(path.join(out, '.cnnfeat-lock'))));

  // A lock of another machine cannot be checked: refused, naming the host.
  const foreign: LockHolder = { pid: 4242, host: 'node-17.cluster', startedAt: '2026-01-01T00:00:00.000Z', command: 'merge' };
  await fsp.writeFile(path.join(out, '.cnnfeat-lock'), JSON.stringify(foreign));
  const refused = await runCli([...args(out), '--resume']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /is in use by process 4242 on host node-17\.cluster \(merge, started 2026-01-01T00:00:00\.000Z\)/);
  await fsp.rm(path.join(out, '.cnnfeat-lock'));

  // SIGINT: checkpoint, exit 130, lock removed.
  const out2 = path.join(work, 'interrupted');
  const child = startCli(args(out2));
  const code = new Promise((resolve) => child.on('exit', resolve));
  for (;;) {
    assert.equal(child.exitCode, null);
    if (((await progressOf(out2))?.rows ?? 0) >= 2) break;
    await sleep(2);
  }
  child.kill('SIGINT');
  assert.equal(await code, 130);
  assert.ok(!(await present(path.join(out2, '.cnnfeat-lock'))), 'lock released on SIGINT');
});

test('a write error (file-size limit standing in for a full disk): one clear line, the folder stays resumable', async () => {
  const wide = await makeTinyModel(path.join(work, 'wide'), { filters: 256 });
  const reference = path.join(work, 'wide-ref');
  assert.equal((await runCli(args(reference, wide))).code, 0);
  const out = path.join(work, 'full');
  // 64 KiB per file: the plan fits, features.npy (1 KiB a row) does not.
  const limited = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve, reject) => {
    const child = spawn('bash', ['-c', 'ulimit -f 64 && exec "$0" "$@"', process.execPath, CLI, ...args(out, wide)], { env: { ...process.env, NO_COLOR: '1' } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
  assert.equal(limited.signal, null, 'not killed by SIGXFSZ');
  assert.equal(limited.code, 2, limited.stderr);
  const lines = limited.stderr.trim().split('\n');
  assert.equal(lines.length, 1, limited.stderr);
  assert.match(lines[0]!, /^cnnfeat: .*full: file too large for this file system or its limits \(EFBIG, during write\); \d+ rows up to the last checkpoint are kept: fix this and resume \(--resume\)$/);
  const progress = await progressOf(out);
  assert.ok(progress && progress.rows > 0 && progress.rows < TOTAL, `stopped part-way (${progress?.rows} rows)`);
  assert.ok(!(await present(path.join(out, '.cnnfeat-lock'))));
  const resumed = await runCli([...args(out, wide), '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  await assertSameFiles(out, reference, 'after a write error and --resume');
});

/** The cnnfeat process holding `out`'s lock, once it has checkpointed two rows there. */
async function holderOf(out: string, alive: () => boolean): Promise<number> {
  for (;;) {
    assert.ok(alive(), 'the command ended before it could be signalled');
    const holder = await read<LockHolder>(path.join(out, '.cnnfeat-lock'));
    if (holder && ((await progressOf(out))?.rows ?? 0) >= 2) return holder.pid;
    await sleep(2);
  }
}

/**
 * Freezes process `pid` (SIGSTOP) once it has checkpointed some rows in `out` and is not done,
 * calls `signal` meanwhile (the signal is delivered when it continues), then lets it go on.
 */
async function signalMidRun(out: string, pid: number, total: number, signal: () => void): Promise<void> {
  for (;;) {
    process.kill(pid, 'SIGSTOP');
    const rows = (await progressOf(out))?.rows ?? 0;
    if (rows >= 2) {
      assert.ok(rows < total && !(await present(path.join(out, 'manifest.json'))), 'reached the end before the signal');
      signal();
      process.kill(pid, 'SIGCONT');
      return;
    }
    process.kill(pid, 'SIGCONT');
    await sleep(1);
  }
}

/** A child's exit code (or signal) and everything it and its descendants wrote on stderr. */
function outcome(child: ReturnType<typeof spawn>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  // 'close' waits until every process holding the stderr pipe (an orphaned grandchild too) ended.
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
}

/** The environment without npm's variables (`npm test` sets them for the processes it starts). */
function withoutNpm(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('npm_')));
}

/** The images of the sharded examples: 8 shards of 30. */
function shardImages(): Promise<string> {
  return smallImages(path.join(work, 'data', 'images'), 240);
}

/** `count` small PNGs in two classes under `dir` (made once). */
async function smallImages(dir: string, count: number): Promise<string> {
  if (await present(dir)) return dir;
  for (let i = 0; i < count; i++) {
    await writeImage(path.join(dir, i % 2 ? 'a' : 'b', `${String(i).padStart(3, '0')}.png`), { width: 24, height: 24, rgb: [i % 256, 200 - (i % 256) / 2, 40], seed: 500 + i, format: 'png' });
  }
  return dir;
}

test("SIGTERM to the container's entrypoint running the Kubernetes example's args, and to the SLURM example script: exit 143, no process left, --resume equals an uninterrupted run", async () => {
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(await fsp.readFile(path.join(ROOT, 'Dockerfile'), 'utf8'))?.[1];
  assert.ok(entrypoint, 'the Dockerfile has an exec-form ENTRYPOINT');
  const [exe, ...entryArgs] = (JSON.parse(entrypoint) as string[]).map((a) => a.replace(/^\/app\//, `${ROOT}/`));
  assert.equal(exe, 'node', 'the entrypoint starts node itself (no shell, no npx)');
  const k8s = await fsp.readFile(path.join(ROOT, 'examples', 'kubernetes-indexed-job.yaml'), 'utf8');
  const podArgs = JSON.parse(/^ {10}args: (\[.*\])$/m.exec(k8s)?.[1] ?? 'null') as string[] | null;
  assert.ok(podArgs, 'the extract container of the Kubernetes example gives its args as one flow sequence');
  await shardImages();
  const tiny = ['--model', model, '--preprocess', 'none', '--batch-size', '2', '--quiet'];
  // What the kubelet runs for the pod of index 3: $(SHARD) expanded, the volume at /data.
  const pod = (features: string) => [...entryArgs, ...podArgs.map((a) => a.replace('$(SHARD)', '3').replace('/data/features/', `${features}/`).replace(/^\/data\//, `${work}/data/`)), ...tiny];
  const env = { ...process.env, NO_COLOR: '1', JOB_COMPLETION_INDEX: '3' };
  const reference = path.join(work, 'data', 'reference');
  const uninterrupted = await outcome(spawn(process.execPath, pod(reference), { env }));
  assert.equal(uninterrupted.code, 0, uninterrupted.stderr);

  const features = path.join(work, 'data', 'features');
  const out = path.join(features, 'shard-3');
  const container = spawn(process.execPath, pod(features), { env });
  const stopped = outcome(container);
  await signalMidRun(out, await holderOf(out, () => container.exitCode === null), 30, () => container.kill('SIGTERM'));
  const { code, stderr } = await stopped;
  assert.equal(code, 143, stderr);
  assert.match(stderr, /warning: SIGTERM: stopping after the current batch/);
  assert.ok(!(await running(container.pid!)) && !(await present(path.join(out, '.cnnfeat-lock'))), 'no process left, lock released');
  const resumed = await outcome(spawn(process.execPath, pod(features), { env }));
  assert.equal(resumed.code, 0, resumed.stderr);
  await assertSameFiles(out, path.join(reference, 'shard-3'), 'after SIGTERM to the container and --resume');

  // SLURM signals the batch script's process; the script execs node, so that is cnnfeat.
  const slurmOut = path.join(work, 'data', 'slurm');
  const slurmEnv = { ...env, SLURM_ARRAY_TASK_ID: '3', IMAGES: path.join(work, 'data', 'images'), OUT: slurmOut, CNNFEAT: CLI, CNNFEAT_ARGS: tiny.join(' ') };
  const script = path.join(ROOT, 'examples', 'slurm-array.sh');
  const task = spawn('bash', [script], { env: slurmEnv });
  const ended = outcome(task);
  const shard = path.join(slurmOut, 'shard-3');
  await signalMidRun(shard, await holderOf(shard, () => task.exitCode === null), 30, () => task.kill('SIGTERM'));
  const slurm = await ended;
  assert.equal(slurm.code, 143, slurm.stderr);
  assert.ok(!(await running(task.pid!)) && !(await present(path.join(shard, '.cnnfeat-lock'))), 'no process left, lock released');
  const requeued = await outcome(spawn('bash', [script], { env: slurmEnv }));
  assert.equal(requeued.code, 0, requeued.stderr);
  await assertSameFiles(shard, path.join(reference, 'shard-3'), 'after SIGTERM to the SLURM task and --resume');
});

test('started by npm (`sh -c` as npx runs it): when npm\'s shell is killed cnnfeat stops at a checkpoint as for SIGTERM; orphaned otherwise (nohup … &), it finishes', async (t) => {
  // npm 11 (@npmcli/run-script) runs `sh -c "'cnnfeat' <args>"` with the package's bin folder on
  // PATH, and passes SIGINT/SIGTERM on to that shell only; dash forks cnnfeat and dies of the SIGTERM.
  const bin = path.join(work, 'npx-bin');
  await fsp.mkdir(bin, { recursive: true });
  await fsp.symlink(CLI, path.join(bin, 'cnnfeat')).catch(() => {});
  const quoted = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const PATH = [bin, path.dirname(process.execPath), process.env.PATH].join(path.delimiter);
  const npmEnv = { ...withoutNpm(process.env), PATH, NO_COLOR: '1', npm_lifecycle_event: 'npx', npm_command: 'exec' };

  // 1,000 images one by one (≈ 3 s on an idle machine): cnnfeat is still running when it
  // notices (it checks every 100 ms), even on a loaded one.
  const images = await smallImages(path.join(work, 'data', 'npm-images'), 1000);
  const npxArgs = (out: string) => ['extract', images, '-o', out, '--batch-size', '1', '--model', model, '--preprocess', 'none', '--quiet'];
  const reference = path.join(work, 'npx-reference');
  assert.equal((await runCli(npxArgs(reference))).code, 0);
  const out = path.join(work, 'under-npx');
  const shell = spawn('sh', ['-c', ['cnnfeat', ...npxArgs(out)].map(quoted).join(' ')], { env: npmEnv });
  const ended = outcome(shell);
  const pid = await holderOf(out, () => shell.exitCode === null && shell.signalCode === null);
  if (pid === shell.pid) t.diagnostic('this sh execs its last command: the SIGTERM reaches cnnfeat directly');
  // Not while cnnfeat is stopped: a stopped process whose process group loses its last outside
  // parent gets SIGHUP from the kernel (an orphaned process group).
  await signalMidRun(out, pid, 1000, () => {});
  shell.kill('SIGTERM');
  const { stderr } = await ended;
  assert.match(stderr, /warning: (the npm process that started cnnfeat has ended|SIGTERM)\b.*: stopping after the current batch/);
  assert.match(lastLine(stderr), /^cnnfeat: interrupted; \d+ rows are saved in .*under-npx, resume \(--resume\) to continue$/);
  assert.ok(!(await running(pid)) && !(await present(path.join(out, '.cnnfeat-lock'))), 'no process left, lock released');
  const resumed = await runCli([...npxArgs(out), '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  await assertSameFiles(out, reference, 'after npm\'s shell was killed and --resume');

  // Not started by npm: a process left running by its parent on purpose carries on to the end.
  const detached = path.join(work, 'nohup');
  const left = spawn('sh', ['-c', `${['cnnfeat', ...args(detached)].map(quoted).join(' ')} &`], { env: { ...withoutNpm(process.env), PATH, NO_COLOR: '1' } });
  const { stderr: leftErr } = await outcome(left);
  assert.equal(leftErr, '');
  await assertSameFiles(detached, path.join(work, 'ref'), 'when orphaned without npm');
  assert.ok(await present(path.join(detached, 'manifest.json')));
});
