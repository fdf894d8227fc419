// Child processes of the benchmark: commands, and `cnnfeat` runs measured for peak RSS.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RSS_PROBE = path.join(HERE, 'rss-probe.mjs');

/** Runs a command; resolves to { stdout, stderr }, rejects with its last stderr lines on failure. */
export function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) return resolve({ stdout, stderr });
      reject(new Error(`${path.basename(cmd)} ${args.slice(0, 3).join(' ')} … exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

/** Runs `cnnfeat <args> --json` in a child process: its JSON result and its peak RSS in MB. */
export async function runCnnfeat(root, args) {
  const { stdout, stderr } = await run(process.execPath, ['--import', RSS_PROBE, path.join(root, 'bin', 'cnnfeat.js'), ...args, '--json'], { cwd: root });
  const rssKb = Number(/cnnfeat-bench-peak-rss-kb=(\d+)/.exec(stderr)?.[1] ?? NaN);
  return { result: JSON.parse(stdout), peakRssMB: rssKb / 1024 };
}
