import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { CnnfeatError, errorMessage } from '../../errors.js';
import { cacheDir } from '../../util/cache.js';
import { sha256OfFiles, sha256OfText } from '../../util/hash.js';
import { makeDir, readJson, statOrNull, writeFileAtomic, writeJsonAtomic } from '../../util/fs.js';
import type { Logger } from '../../util/log.js';
import { silentLogger } from '../../util/log.js';
import { inferenceError, type CutSpec, type EngineLoadOptions, type EngineTimings, type FeatureExtractor, type PoolMode, type EngineRunOptions } from '../engine.js';
import { defaultFeatureLayer, imageInputOf, loadLayersModel } from '../tfjs.js';
import { EXPORTER_VERSION, exportToOnnx } from './export.js';
import type { RunTiming, SessionRequest, SessionResponse, SessionSetup } from './protocol.js';
import { monotonicMs } from '../../util/thread-times.js';

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

/** What is stored beside an exported `.onnx` file: enough to run it without the tfjs model. */
interface ExportRecord {
  exporterVersion: number;
  weightsDigest: string;
  layers: string[];
  pool: PoolMode;
  dim: number;
  pooled: boolean;
  input: { height: number; width: number };
}

/** The model to run: a TensorFlow.js LayersModel and the digest of its weights (the cache key). */
export interface OnnxSource {
  modelJson: string;
  weightsDigest: string;
}

/** onnxruntime could not start or load a model: `auto` then runs the model on tfjs. */
export class OnnxRuntimeError extends CnnfeatError {
  override name = 'OnnxRuntimeError';
}

/**
 * Loads a LayersModel on onnxruntime-node: exported to ONNX (cut at `opts.layers`) on first use
 * and cached under `<cache>/onnx/`, keyed by model.json, weights digest, cut and exporter version.
 * A cached export onnxruntime cannot load is exported again, once.
 * @throws UnsupportedLayerError when a layer cannot be exported, OnnxRuntimeError when
 *   onnxruntime cannot run the export (the caller may fall back to tfjs)
 */
export async function loadOnnxExtractor(source: OnnxSource, opts: Partial<EngineLoadOptions> & { logger?: Logger } = {}): Promise<FeatureExtractor> {
  const logger = opts.logger ?? silentLogger;
  const cut = { layers: opts.layers ?? [], pool: opts.pool ?? 'avg' };
  return startCachedGraph((fresh) => exportedModel(source, cut, logger, fresh), { threads: opts.threads, logger, redo: 'exporting the model again' });
}

/**
 * A graph file the engine runs: input `input` float32 [N, H, W, 3] (NHWC), output `features`
 * [N, dim]; `cached` when it was made by an earlier run.
 */
export interface FeatureGraph {
  file: string;
  layers: string[];
  dim: number;
  pooled: boolean;
  pool: PoolMode;
  input: { height: number; width: number };
  cached: boolean;
}

/**
 * Starts the engine on the graph `prepare(false)` gives (from the cache when it can); a cached
 * graph onnxruntime cannot load is prepared again, once (`prepare(true)`), saying `redo`.
 */
export async function startCachedGraph(
  prepare: (fresh: boolean) => Promise<FeatureGraph>,
  { threads = os.availableParallelism(), logger = silentLogger, redo }: { threads?: number; logger?: Logger; redo: string },
): Promise<FeatureExtractor> {
  const graph = await prepare(false);
  try {
    return await startExtractor(graph, threads);
  } catch (err) {
    if (!graph.cached) throw err;
    logger.warn(`${errorMessage(err)}; ${redo}`);
    return startExtractor(await prepare(true), threads);
  }
}

async function startExtractor(record: Omit<FeatureGraph, 'cached'>, threads: number): Promise<FeatureExtractor> {
  const session = new SessionWorker({ file: record.file, threads });
  try {
    await session.ready;
    const extractor = buildExtractor(session, record, threads);
    await extractor.run(new Float32Array(record.input.height * record.input.width * 3), 1);
    return extractor;
  } catch (err) {
    await session.terminate();
    throw new OnnxRuntimeError(`${record.file}: onnxruntime could not run the exported model: ${errorMessage(err)}`);
  }
}

interface PendingRun {
  resolve: (f: Float32Array) => void;
  reject: (e: Error) => void;
  returned: ((batch: Float32Array) => void) | undefined;
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
  readonly ready: Promise<void>;

  constructor(setup: SessionSetup) {
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: setup });
    this.ready = new Promise((resolve, reject) => {
      this.worker.on('message', (msg: SessionResponse) => {
        if (msg.type === 'ready') return resolve();
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
  run(batch: Float32Array, dims: [number, number, number, 3], opts: EngineRunOptions): Promise<Float32Array> {
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

function buildExtractor(session: SessionWorker, record: Omit<FeatureGraph, 'cached' | 'file'>, threads: number): FeatureExtractor {
  const { height, width } = record.input;
  return {
    layers: record.layers,
    dim: record.dim,
    input: record.input,
    pooled: record.pooled,
    pool: record.pool,
    async run(batch, n, opts) {
      try {
        return await session.run(batch, [n, height, width, 3], opts ?? {});
      } catch (err) {
        throw inferenceError(n, err);
      }
    },
    describe: () => ({ engine: 'onnx', version: onnxRuntimeVersion(), threads }),
    timings: () => ({ ...session.timings }),
    dispose: () => session.release(),
  };
}

/** The cached export for this model and cut, made now when missing (or when `fresh`). */
async function exportedModel(source: OnnxSource, cut: Required<CutSpec>, logger: Logger, fresh: boolean): Promise<ExportRecord & { file: string; cached: boolean }> {
  const dir = path.join(cacheDir(), 'onnx');
  const topology = await sha256OfFiles([source.modelJson]);
  const key = sha256OfText(JSON.stringify([topology, source.weightsDigest, cut, EXPORTER_VERSION])).slice(0, 24);
  const file = path.join(dir, `${key}.onnx`);
  const recordFile = path.join(dir, `${key}.json`);
  if (!fresh && (await statOrNull(file))?.isFile() && (await statOrNull(recordFile))?.isFile()) {
    return { ...(await readJson<ExportRecord>(recordFile)), file, cached: true };
  }
  logger.info(`Exporting ${source.modelJson} to ONNX, once: ${file}`);
  const record = await exportNow(source, cut);
  await makeDir(dir);
  await writeFileAtomic(file, record.bytes);
  const { bytes: _bytes, ...rest } = record;
  await writeJsonAtomic(recordFile, rest);
  return { ...rest, file, cached: false };
}

async function exportNow(source: OnnxSource, cut: Required<CutSpec>): Promise<ExportRecord & { bytes: Uint8Array }> {
  const model = await loadLayersModel(source.modelJson);
  try {
    const layers = cut.layers.length > 0 ? cut.layers : [defaultFeatureLayer(model)];
    const { bytes, dim, pooled } = exportToOnnx(model, { layers, pool: cut.pool });
    const input = imageInputOf(model, source.modelJson);
    return { exporterVersion: EXPORTER_VERSION, weightsDigest: source.weightsDigest, layers, pool: cut.pool, dim, pooled, input, bytes };
  } finally {
    model.dispose();
  }
}
