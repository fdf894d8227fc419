/**
 * onnxruntime sessions in worker threads (onnxruntime-node's `run` blocks the thread that calls
 * it), on the device `--device` asks for: the CPU provider, or a GPU provider (WebGPU, CUDA) that
 * is started, checked and — for `auto` — timed against the CPU provider before it is used.
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { CnnfeatError, errorMessage } from '../../errors.js';
import type { Logger } from '../../util/log.js';
import { silentLogger } from '../../util/log.js';
import { monotonicMs } from '../../util/thread-times.js';
import { CONTAINER_FIX, VULKAN_FIX, deviceName, planGpu, shortProviderError, type DeviceRequest, type GpuCandidate, type GpuPlan, type Provider } from '../device/choice.js';
import { SOFTWARE_ADAPTER, cpuName, gpuFacts, type GpuFacts } from '../device/facts.js';
import { inferenceError, type EngineDescription, type EngineInput, type EngineRunOptions, type EngineTimings, type FeatureExtractor, type PoolMode, type Precision } from '../engine.js';
import type { RunTiming, SessionRequest, SessionResponse, SessionSetup } from './protocol.js';

const require = createRequire(import.meta.url);

/** Whether onnxruntime-node's native binding loads on this platform. */
export function onnxRuntimeLoads(): boolean {
  try {
    require('onnxruntime-node');
    return true;
  } catch {
    return false;
  }
}

/** Version of the installed onnxruntime-node. */
export function onnxRuntimeVersion(): string {
  return (require('onnxruntime-node/package.json') as { version: string }).version;
}

/** onnxruntime could not start or load a model: `auto` then runs the model on tfjs. */
export class OnnxRuntimeError extends CnnfeatError {
  override name = 'OnnxRuntimeError';
}

/**
 * A graph file the engine runs: input `input` [N, H, W, 3] (NHWC; float32 preprocessed values,
 * or uint8 pixels with `pixelInput`), output `features` float32 [N, dim]; `cached` when it
 * was made by an earlier run.
 */
export interface FeatureGraph {
  file: string;
  layers: string[];
  dim: number;
  pooled: boolean;
  pool: PoolMode;
  input: { height: number; width: number };
  /** The graph takes raw uint8 pixels and normalises them itself (default: preprocessed float32 values). */
  pixelInput?: boolean;
  /** Default fp32. */
  precision?: Precision;
  cached: boolean;
}

/** Where to start a graph's session. */
export interface DeviceOptions {
  /** Default `auto`. */
  device?: DeviceRequest;
  /** Intra-op threads (default: all cores on the CPU, 1 beside a GPU provider). */
  threads?: number;
  /** `auto` also considers (and times) a software WebGPU adapter such as lavapipe; for tests. */
  allowSoftwareAdapter?: boolean;
  logger?: Logger;
}

/** Images run through each provider when `auto` times a GPU against the CPU. */
const TIMING_IMAGES = 8;
/** Default batch size on a GPU (measured on an H200, ResNet50: best at 32 in fp32, at 64 in fp16). */
const GPU_BATCH = { fp32: 32, fp16: 64 } as const;

/**
 * Starts `graph` on the requested device. `auto` takes a GPU provider when one starts and runs
 * a batch faster than the CPU provider (timed here), else the CPU, saying which and why; an
 * explicit GPU request that cannot be met is a one-line error (exit 2) naming the fix.
 * @throws OnnxRuntimeError when the CPU provider cannot run the graph (a damaged cache, say)
 */
export async function startOnDevice(graph: Omit<FeatureGraph, 'cached'>, opts: DeviceOptions = {}): Promise<FeatureExtractor> {
  const logger = opts.logger ?? silentLogger;
  const req = opts.device ?? { kind: 'auto' };
  if (req.kind === 'cpu') return announce(await startCpu(graph, opts, 'asked for (--device cpu)'), logger);
  const facts = gpuFacts();
  const plan = planGpu(req, facts, { allowSoftware: opts.allowSoftwareAdapter });
  if (req.kind !== 'auto') return startRequested(graph, req, plan, facts, opts);
  const failures: string[] = [];
  for (const candidate of plan.candidates) {
    const gpu = await tryGpu(graph, candidate, opts, candidate.software || opts.allowSoftwareAdapter === true, failures);
    if (!gpu) continue;
    const gpuMs = await msPerImage(gpu.extractor, graph).catch((err: unknown) => {
      failures.push(`${candidate.provider} failed its timed batch (${shortProviderError(err)})`);
      return null;
    });
    if (gpuMs === null) {
      await gpu.extractor.dispose();
      continue;
    }
    return announce(await fasterOfGpuAndCpu(graph, opts, candidate, gpu, gpuMs), logger);
  }
  const why = failures.length > 0 ? failures.join('; ') : (plan.reason ?? 'no GPU');
  return announce(await startCpu(graph, opts, `auto: ${why}`), logger);
}

/**
 * The GPU extractor or a CPU one, whichever runs {@link TIMING_IMAGES} images faster, with the
 * timing as its reason; the other is closed (both, when the CPU side fails).
 */
async function fasterOfGpuAndCpu(graph: Omit<FeatureGraph, 'cached'>, opts: DeviceOptions, candidate: GpuCandidate, gpu: StartedGpu, gpuMs: number): Promise<FeatureExtractor> {
  let cpu: FeatureExtractor | null = null;
  let kept: FeatureExtractor | null = null;
  try {
    cpu = await startCpu(graph, opts, '');
    const cpuMs = await msPerImage(cpu, graph);
    const timing = `${TIMING_IMAGES} images: ${gpuMs.toFixed(1)} ms/img on ${candidate.provider} (${gpu.adapter}) vs ${cpuMs.toFixed(1)} ms/img on the CPU provider`;
    kept = gpuMs < cpuMs ? gpu.extractor : cpu;
    return withReason(kept, kept === cpu ? `auto: the GPU was not faster (${timing})` : `auto: the GPU ran faster (${timing})`);
  } finally {
    await Promise.all([gpu.extractor, cpu].filter((e) => e !== null && e !== kept).map((e) => e!.dispose()));
  }
}

const FP16_ON_CPU = "float16 on the CPU provider: onnxruntime's CPU kernels compute most float16 operators in float32 between casts, so it is slower than fp32 and only reproduces the GPU's fp16 features approximately; use --precision fp32 on the CPU";

/** Says on stderr which device and adapter the engine took and why (and that fp16 on the CPU is a poor choice). */
function announce(extractor: FeatureExtractor, logger: Logger): FeatureExtractor {
  const d = extractor.describe();
  if (d.device === 'cpu' && d.precision === 'fp16') logger.warn(FP16_ON_CPU);
  logger.info(`device: ${d.device === 'gpu' ? `GPU, ${d.provider} on ${d.adapter}` : `CPU (${d.adapter})`}, ${d.precision}; ${d.deviceReason}`);
  return extractor;
}

/**
 * Fails at once (before a model is exported or cut) for a `gpu` or `cuda` request the machine's
 * facts cannot meet; `webgpu` is always tried, the session being the real test.
 */
export function assertDeviceAvailable(req: DeviceRequest | undefined): void {
  if (!req || (req.kind !== 'gpu' && req.kind !== 'cuda')) return;
  const plan = planGpu(req, gpuFacts());
  if (plan.candidates.length === 0) throw new CnnfeatError(`--device ${deviceName(req)}: ${plan.reason ?? 'no GPU provider'}; ${plan.fix ?? 'use --device cpu or auto'}`);
}

/** `gpu`, `webgpu`, `cuda`: the GPU or a one-line error naming the fix; never the CPU. */
async function startRequested(graph: Omit<FeatureGraph, 'cached'>, req: DeviceRequest, plan: GpuPlan, facts: GpuFacts, opts: DeviceOptions): Promise<FeatureExtractor> {
  const logger = opts.logger ?? silentLogger;
  const name = `--device ${deviceName(req)}`;
  assertDeviceAvailable(req);
  // An explicit WebGPU request tries the provider even where the facts found no Vulkan driver: the session is the real test.
  const candidates = plan.candidates.length > 0 ? plan.candidates : [{ provider: 'webgpu' as const, deviceId: 0, adapter: 'unknown adapter', software: false }];
  const failures: string[] = [];
  for (const candidate of candidates) {
    const gpu = await tryGpu(graph, candidate, opts, req.kind !== 'gpu', failures);
    if (!gpu) continue;
    if (gpu.software) logger.warn(`${name}: the WebGPU adapter is ${gpu.adapter}, a CPU rasteriser: slower than the CPU provider (--device cpu)`);
    return announce(withReason(gpu.extractor, `asked for (${name})`), logger);
  }
  const fixes = plan.fix ?? [...new Set(candidates.map((c) => startFailureFix(c.provider, facts)))].join('; or ');
  throw new CnnfeatError(`${name}: ${failures.join('; ')}; ${fixes}`);
}

type StartedGpu = Awaited<ReturnType<typeof startGpu>>;

/**
 * Starts a GPU session on `candidate`; null, with the reason added to `failures`, when it does not
 * start or lands on a software adapter that is not accepted (closed again then).
 */
async function tryGpu(graph: Omit<FeatureGraph, 'cached'>, candidate: GpuCandidate, opts: DeviceOptions, acceptSoftware: boolean, failures: string[]): Promise<StartedGpu | null> {
  const gpu = await startGpu(graph, candidate, opts).catch((err: unknown) => {
    failures.push(`${candidate.provider} did not start (${shortProviderError(err)})`);
    return null;
  });
  if (!gpu || !gpu.software || acceptSoftware) return gpu;
  await gpu.extractor.dispose();
  failures.push(`the WebGPU provider took the software adapter ${gpu.adapter}: the GPU's Vulkan driver did not load`);
  return null;
}

/** What to do when a GPU provider the facts looked fine for does not start. */
function startFailureFix(provider: Provider, facts: GpuFacts): string {
  if (provider === 'cuda') return 'check that CUDA 12 and cuDNN 9 are installed and on the library path (LD_LIBRARY_PATH)';
  if (facts.platform !== 'linux') return "update the GPU driver, or use --device cpu";
  const nvidia = facts.devices.some((d) => d.vendor === 'nvidia');
  return nvidia ? `the NVIDIA Vulkan driver needs the glvnd libraries: ${VULKAN_FIX}; ${CONTAINER_FIX}` : VULKAN_FIX;
}

function withReason(extractor: FeatureExtractor, deviceReason: string): FeatureExtractor {
  const describe = extractor.describe;
  return { ...extractor, describe: () => ({ ...describe(), deviceReason }) };
}

async function startCpu(graph: Omit<FeatureGraph, 'cached'>, opts: DeviceOptions, reason: string): Promise<FeatureExtractor> {
  const threads = opts.threads ?? os.availableParallelism();
  const started = await startSession(graph, { provider: 'cpu', deviceId: 0, threads });
  const description: EngineDescription = { engine: 'onnx', version: onnxRuntimeVersion(), threads, device: 'cpu', provider: 'cpu', adapter: cpuName(), precision: graph.precision ?? 'fp32', deviceReason: reason };
  return buildExtractor(started.session, graph, description, undefined);
}

/** A GPU session, warmed up, and the adapter it got: the software one when Mesa's rasteriser threads started. */
async function startGpu(graph: Omit<FeatureGraph, 'cached'>, candidate: GpuCandidate, opts: DeviceOptions): Promise<{ extractor: FeatureExtractor; adapter: string; software: boolean }> {
  const threads = opts.threads ?? 1;
  const started = await startSession(graph, { provider: candidate.provider, deviceId: candidate.deviceId, threads });
  const software = candidate.provider === 'webgpu' && started.rasterizerThreads;
  const adapter = software ? SOFTWARE_ADAPTER : candidate.adapter;
  const description: EngineDescription = { engine: 'onnx', version: onnxRuntimeVersion(), threads, device: 'gpu', provider: candidate.provider, adapter, precision: graph.precision ?? 'fp32' };
  return { extractor: buildExtractor(started.session, graph, description, GPU_BATCH[graph.precision ?? 'fp32']), adapter, software };
}

/** A session on `setup`'s provider, created and run once; the error is onnxruntime's. */
async function startSession(graph: Omit<FeatureGraph, 'cached'>, setup: Omit<SessionSetup, 'file'>): Promise<{ session: SessionWorker; rasterizerThreads: boolean }> {
  const session = new SessionWorker({ file: graph.file, ...setup });
  try {
    const { rasterizerThreads } = await session.ready;
    await session.run(zeroBatch(graph, 1), [1, graph.input.height, graph.input.width, 3], {});
    return { session, rasterizerThreads };
  } catch (err) {
    await session.terminate();
    if (setup.provider !== 'cpu') throw err;
    throw new OnnxRuntimeError(`${graph.file}: onnxruntime could not run the exported model: ${errorMessage(err)}`);
  }
}

function zeroBatch(graph: Omit<FeatureGraph, 'cached'>, n: number): EngineInput {
  const length = n * graph.input.height * graph.input.width * 3;
  return graph.pixelInput ? new Uint8Array(length) : new Float32Array(length);
}

/** Milliseconds per image of a warm run of {@link TIMING_IMAGES} images (the first run, which compiles GPU shaders, is not counted). */
async function msPerImage(extractor: FeatureExtractor, graph: Omit<FeatureGraph, 'cached'>): Promise<number> {
  await extractor.run(zeroBatch(graph, TIMING_IMAGES), TIMING_IMAGES);
  const started = performance.now();
  await extractor.run(zeroBatch(graph, TIMING_IMAGES), TIMING_IMAGES);
  return (performance.now() - started) / TIMING_IMAGES;
}

interface PendingRun {
  resolve: (f: Float32Array) => void;
  reject: (e: Error) => void;
  returned: ((batch: EngineInput) => void) | undefined;
  postedAt: number;
  images: number;
}

/** An onnxruntime session in a worker thread, with requests matched to replies by id. */
class SessionWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, PendingRun>();
  private nextId = 0;
  private lastFinishedAt = 0;
  private releasing = false;
  readonly timings: EngineTimings = { runs: 0, images: 0, inferenceMs: 0, handoverMs: 0, returnMs: 0, inferenceCpuMs: null, inferenceCpuWaitMs: null };
  private failure: Error | null = null;
  /** Resolves once the session is created; `rasterizerThreads`: a software Vulkan device runs in the process. */
  readonly ready: Promise<{ rasterizerThreads: boolean }>;

  constructor(setup: SessionSetup) {
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: setup });
    this.ready = new Promise((resolve, reject) => {
      this.worker.on('message', (msg: SessionResponse) => {
        if (msg.type === 'ready') return resolve({ rasterizerThreads: msg.rasterizerThreads });
        if (msg.type === 'error' && msg.id === -1) return reject(new Error(msg.message));
        const call = this.pending.get(msg.id);
        this.settle(msg.id);
        if (msg.type === 'result' && call) {
          this.count(call, msg.timing);
          call.returned?.(msg.batch);
          call.resolve(msg.features);
        }
        else if (msg.type === 'error') call?.reject(new Error(msg.message));
      });
      this.worker.on('error', (err) => this.fail(err, reject));
      this.worker.on('exit', () => this.fail(new Error('the onnxruntime worker exited'), reject));
    });
    void this.ready.then(() => this.worker.unref(), () => {});
  }

  private fail(err: Error, rejectReady: (e: Error) => void): void {
    this.failure ??= err;
    rejectReady(err);
    for (const call of this.pending.values()) call.reject(err);
    this.pending.clear();
  }

  private count(call: PendingRun, t: RunTiming): void {
    const m = this.timings;
    m.runs++;
    m.images += call.images;
    m.inferenceMs += t.finishedAt - t.startedAt;
    m.handoverMs += Math.max(0, t.startedAt - Math.max(call.postedAt, this.lastFinishedAt));
    m.returnMs += Math.max(0, monotonicMs() - t.finishedAt);
    if (t.cpuMs !== null) m.inferenceCpuMs = (m.inferenceCpuMs ?? 0) + t.cpuMs;
    if (t.cpuWaitMs !== null) m.inferenceCpuWaitMs = (m.inferenceCpuWaitMs ?? 0) + t.cpuWaitMs;
    this.lastFinishedAt = t.finishedAt;
  }

  /** Keeps the process alive while a reply is awaited, and only then. */
  private settle(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0 && !this.releasing) this.worker.unref();
  }

  /**
   * Runs the first `dims[0]` images of `batch`. A transferred batch moves to the worker whole
   * (when it owns its buffer; else its images are copied) and comes back to `opts.returned`.
   */
  run(batch: EngineInput, dims: [number, number, number, 3], opts: EngineRunOptions): Promise<Float32Array> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const owned = opts.transfer === true && batch.byteOffset === 0 && batch.byteLength === batch.buffer.byteLength;
    const sent = owned ? batch : batch.subarray(0, dims[0] * dims[1] * dims[2] * 3);
    this.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, returned: owned ? opts.returned : undefined, postedAt: monotonicMs(), images: dims[0] });
      this.worker.postMessage({ type: 'run', id, batch: sent, dims } satisfies SessionRequest, owned ? [batch.buffer as ArrayBuffer] : []);
    });
  }

  /** Stops the worker at once (after a failed start). */
  async terminate(): Promise<void> {
    await this.worker.terminate();
  }

  /** Ends the worker once the runs handed to it are done; the process stays alive until then. */
  async release(): Promise<void> {
    if (this.failure) return;
    this.releasing = true;
    this.worker.ref();
    const exited = new Promise((resolve) => this.worker.once('exit', resolve));
    this.worker.postMessage({ type: 'release' } satisfies SessionRequest);
    await exited;
  }
}

function buildExtractor(session: SessionWorker, graph: Omit<FeatureGraph, 'cached' | 'file'>, description: EngineDescription, batchSize: number | undefined): FeatureExtractor {
  const { height, width } = graph.input;
  return {
    layers: graph.layers,
    dim: graph.dim,
    input: graph.input,
    pooled: graph.pooled,
    pool: graph.pool,
    inputType: graph.pixelInput ? 'uint8' : 'float32',
    ...(batchSize ? { batchSize } : {}),
    async run(batch, n, opts) {
      if (graph.pixelInput && !(batch instanceof Uint8Array)) {
        throw new CnnfeatError('this engine takes the uint8 pixels (inputType uint8), not preprocessed floats: pack batches with toInput(pixels, settings, undefined, extractor.inputType)');
      }
      try {
        return await session.run(batch, [n, height, width, 3], opts ?? {});
      } catch (err) {
        throw inferenceError(n, err);
      }
    },
    describe: () => ({ ...description }),
    timings: () => ({ ...session.timings }),
    dispose: () => session.release(),
  };
}
