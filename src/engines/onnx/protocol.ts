/** Messages between the ONNX engine and its session worker. */
import type { Provider } from '../device/choice.js';

/** `workerData` of the session worker. */
export interface SessionSetup {
  file: string;
  threads: number;
  /** The execution provider (onnxruntime falls back to its CPU provider for nodes the GPU one lacks). */
  provider: Provider;
  /** GPU index (CUDA). */
  deviceId: number;
}

/** When a run happened (ms on the process-wide monotonic clock) and what its threads cost. */
export interface RunTiming {
  startedAt: number;
  finishedAt: number;
  /** CPU time of the worker's thread and onnxruntime's intra-op threads during the run (null: unknown). */
  cpuMs: number | null;
  /** Time those threads were runnable but waited for a core (null: unknown). */
  cpuWaitMs: number | null;
}

export type SessionRequest =
  | { type: 'run'; id: number; batch: Float32Array | Uint8Array; dims: [number, number, number, 3] }
  | { type: 'release' };

export type SessionResponse =
  /** `rasterizerThreads`: Mesa's llvmpipe threads run in the process (a software Vulkan device was created). */
  | { type: 'ready'; rasterizerThreads: boolean }
  /** `batch` is the request's batch, handed back for reuse. */
  | { type: 'result'; id: number; features: Float32Array; timing: RunTiming; batch: Float32Array | Uint8Array }
  | { type: 'error'; id: number; message: string };
