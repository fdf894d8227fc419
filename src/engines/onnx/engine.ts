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
import { inferenceError, type CutSpec, type EngineLoadOptions, type FeatureExtractor, type PoolMode } from '../engine.js';
import { defaultFeatureLayer, imageInputOf, loadLayersModel } from '../tfjs.js';
import { EXPORTER_VERSION, exportToOnnx } from './export.js';
import type { SessionRequest, SessionResponse, SessionSetup } from './protocol.js';

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

/** An onnxruntime session in a worker thread, with requests matched to replies by id. */
class SessionWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (f: Float32Array) => void; reject: (e: Error) => void }>();
  private nextId = 0;
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
        if (msg.type === 'result') call?.resolve(msg.features);
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

  /** Keeps the process alive while a reply is awaited, and only then. */
  private settle(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
  }

  run(batch: Float32Array, dims: [number, number, number, 3], transfer: boolean): Promise<Float32Array> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const owned = transfer && batch.byteOffset === 0 && batch.byteLength === batch.buffer.byteLength;
    this.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'run', id, batch, dims } satisfies SessionRequest, owned ? [batch.buffer as ArrayBuffer] : []);
    });
  }

  /** Stops the worker at once (after a failed start). */
  async terminate(): Promise<void> {
    await this.worker.terminate();
  }

  async release(): Promise<void> {
    if (this.failure) return;
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
        return await session.run(batch.subarray(0, n * height * width * 3), [n, height, width, 3], opts?.transfer ?? false);
      } catch (err) {
        throw inferenceError(n, err);
      }
    },
    describe: () => ({ engine: 'onnx', version: onnxRuntimeVersion(), threads }),
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
