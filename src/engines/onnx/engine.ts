import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { CnnfeatError } from '../../errors.js';
import { cacheDir } from '../../models/cache.js';
import { makeDir, readJson, statOrNull, writeFileAtomic, writeJsonAtomic } from '../../util/fs.js';
import type { Logger } from '../../util/log.js';
import { silentLogger } from '../../util/log.js';
import { inferenceError, type EngineLoadOptions, type FeatureExtractor, type PoolMode } from '../engine.js';
import { defaultFeatureLayer, imageInputOf, loadLayersModel } from '../tfjs.js';
import { EXPORTER_VERSION, exportToOnnx } from './export.js';
import type { SessionRequest, SessionResponse, SessionSetup } from './protocol.js';

const require = createRequire(import.meta.url);

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

/**
 * Loads a LayersModel on onnxruntime-node: exported to ONNX (cut at `opts.layers`) on first use
 * and cached under `<cache>/onnx/`, keyed by weights digest, cut and exporter version.
 * @throws UnsupportedLayerError when a layer cannot be exported (the caller may fall back to tfjs)
 */
export async function loadOnnxExtractor(source: OnnxSource, opts: Partial<EngineLoadOptions> & { logger?: Logger } = {}): Promise<FeatureExtractor> {
  const record = await exportedModel(source, opts.layers, opts.pool ?? 'avg', opts.logger ?? silentLogger);
  const threads = opts.threads ?? os.availableParallelism();
  const session = new SessionWorker({ file: record.file, threads });
  await session.ready;
  const extractor = buildExtractor(session, record, threads);
  await extractor.run(new Float32Array(record.input.height * record.input.width * 3), 1);
  return extractor;
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
        if (msg.type === 'error' && msg.id === -1) {
          return reject(new CnnfeatError(`${setup.file}: onnxruntime could not load the exported model: ${msg.message}; delete the file to export it again, or use --engine tfjs`));
        }
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

  async release(): Promise<void> {
    if (this.failure) return;
    this.worker.ref();
    const exited = new Promise((resolve) => this.worker.once('exit', resolve));
    this.worker.postMessage({ type: 'release' } satisfies SessionRequest);
    await exited;
  }
}

function buildExtractor(session: SessionWorker, record: ExportRecord, threads: number): FeatureExtractor {
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

/** The cached export for this cut, made now when missing. */
async function exportedModel(source: OnnxSource, layers: string[] | undefined, pool: PoolMode, logger: Logger): Promise<ExportRecord & { file: string }> {
  const dir = path.join(cacheDir(), 'onnx');
  const model = layers?.length ? null : await loadLayersModel(source.modelJson);
  const cut = layers?.length ? layers : [defaultFeatureLayer(model!)];
  model?.dispose();
  const key = createHash('sha256').update(JSON.stringify([source.weightsDigest, cut, pool, EXPORTER_VERSION])).digest('hex').slice(0, 24);
  const file = path.join(dir, `${key}.onnx`);
  const recordFile = path.join(dir, `${key}.json`);
  if ((await statOrNull(file))?.isFile() && (await statOrNull(recordFile))?.isFile()) {
    return { ...(await readJson<ExportRecord>(recordFile)), file };
  }
  logger.info(`Exporting ${source.modelJson} (${cut.join(',')}) to ONNX, once: ${file}`);
  const record = await exportNow(source, cut, pool);
  await makeDir(dir);
  await writeFileAtomic(file, record.bytes);
  const { bytes: _bytes, ...rest } = record;
  await writeJsonAtomic(recordFile, rest);
  return { ...rest, file };
}

async function exportNow(source: OnnxSource, layers: string[], pool: PoolMode): Promise<ExportRecord & { bytes: Uint8Array }> {
  const model = await loadLayersModel(source.modelJson);
  try {
    const { bytes, dim, pooled } = exportToOnnx(model, { layers, pool });
    const input = imageInputOf(model, source.modelJson);
    return { exporterVersion: EXPORTER_VERSION, weightsDigest: source.weightsDigest, layers, pool, dim, pooled, input, bytes };
  } finally {
    model.dispose();
  }
}
