/** Whether the WebGPU provider starts here, and on which adapter: tried in a child process. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { planGpu, shortProviderError } from './choice.js';
import { SOFTWARE_ADAPTER, gpuFacts } from './facts.js';

/** What a WebGPU probe found. */
export interface WebGpuProbe {
  ok: boolean;
  /** The adapter as far as cnnfeat can tell (see `planGpu`), when the provider started. */
  adapter: string | null;
  software: boolean;
  /** onnxruntime's error, shortened. */
  error: string | null;
  /** Lines Dawn and the drivers printed on stderr while it started. */
  driverMessages: number;
  ms: number;
}

/** Starts the WebGPU provider on a one-node graph in a child process (`cnnfeat info`). */
export function probeWebGpu(timeoutMs = 60_000): Promise<WebGpuProbe> {
  const child = fileURLToPath(new URL('./probe-child.js', import.meta.url));
  return new Promise((resolve) => {
    execFile(process.execPath, [child], { timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const driverMessages = stderr.split('\n').filter((l) => l.trim() !== '' && !/^\s+at /.test(l)).length;
      let found: { ok: boolean; error: string | null; rasterizerThreads: boolean; ms: number };
      try {
        found = JSON.parse(stdout.trim().split('\n').pop() ?? '');
      } catch {
        resolve({ ok: false, adapter: null, software: false, error: err ? `the probe failed: ${err.message.split('\n')[0]}` : 'the probe printed nothing', driverMessages, ms: 0 });
        return;
      }
      const software = found.ok && found.rasterizerThreads;
      const hardware = planGpu({ kind: 'webgpu' }, gpuFacts()).candidates.find((c) => !c.software)?.adapter ?? 'unknown adapter';
      const error = found.error ? shortProviderError(found.error) : null;
      resolve({ ok: found.ok, adapter: found.ok ? (software ? SOFTWARE_ADAPTER : hardware) : null, software, error, driverMessages, ms: Math.round(found.ms) });
    });
  });
}
