// The output-directory lock as a library: exclusive, re-entrant in one process, stale locks of
// dead processes taken over, unreadable or foreign-host locks refused.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { readJson, recordingLogger, tempDir } from './helpers.js';
import { acquireLock, LOCK_FILE, type LockHolder } from '../dist/index.js';

const { logger, warnings } = recordingLogger();

test('lock: holder recorded, re-entrant, released (with the folder it created), stale taken over, others refused', async (t) => {
  const base = await tempDir(t);
  const dir = path.join(base, 'out');
  const lock = await acquireLock(dir, 'extract', logger);
  const holder = await readJson<LockHolder>(path.join(dir, LOCK_FILE));
  assert.deepEqual([holder.pid, holder.host, holder.command], [process.pid, os.hostname(), 'extract']);
  assert.ok(!Number.isNaN(Date.parse(holder.startedAt)));
  const inner = await acquireLock(dir, 'extract --update', logger);
  await inner.release();
  assert.ok(await fsp.access(path.join(dir, LOCK_FILE)).then(() => true), 'the inner release keeps the outer lock');
  await lock.release();
  await assert.rejects(fsp.access(dir), 'the folder made for the lock, still empty, is removed');

  // A lock left by a process that has ended is taken over, with a warning.
  await fsp.mkdir(dir);
  const dead = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => dead.on('exit', resolve));
  await fsp.writeFile(path.join(dir, LOCK_FILE), JSON.stringify({ pid: dead.pid, host: os.hostname(), startedAt: '2026-01-01T00:00:00Z', command: 'merge' }));
  const taken = await acquireLock(dir, 'extract', logger);
  assert.match(warnings.at(-1) ?? 'no warning', new RegExp(`taking over the lock of process ${dead.pid} on ${os.hostname()} \\(merge, started 2026-01-01T00:00:00Z\\), which no longer runs`));
  await taken.release();
  assert.ok(await fsp.access(dir).then(() => true), 'a folder that existed before stays');

  // Unreadable lock, or a live process of this host: refused.
  await fsp.writeFile(path.join(dir, LOCK_FILE), 'garbage');
  await assert.rejects(acquireLock(dir, 'extract'), /is locked \(.*\.cnnfeat-lock exists but is unreadable\); if no cnnfeat process writes there, remove/);
  const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
  t.after(() => live.kill());
  await fsp.writeFile(path.join(dir, LOCK_FILE), JSON.stringify({ pid: live.pid, host: os.hostname(), startedAt: 'x', command: 'extract' }));
  await assert.rejects(acquireLock(dir, 'merge'), new RegExp(`is in use by process ${live.pid} on this machine`));

  // Another host's lock: refused while it is refreshed, taken over once it has not been for
  // $CNNFEAT_LOCK_STALE_SECONDS (a killed pod, a SLURM task requeued elsewhere).
  const lockFile = path.join(dir, LOCK_FILE);
  await fsp.writeFile(lockFile, JSON.stringify({ pid: 7, host: 'node-17', startedAt: 'x', command: 'extract' }));
  await assert.rejects(acquireLock(dir, 'extract'), /is in use by process 7 on host node-17/);
  const old = new Date(Date.now() - 700_000);
  await fsp.utimes(lockFile, old, old);
  const takenOver = await acquireLock(dir, 'extract', logger);
  assert.match(warnings.at(-1) ?? 'no warning', /taking over the lock of process 7 on node-17 \(extract, started x\), not refreshed for 600 s/);
  await takenOver.release();
});
