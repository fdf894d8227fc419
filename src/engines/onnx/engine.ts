import path from 'node:path';
import { errorMessage } from '../../errors.js';
import type { PreprocessMode } from '../../image/preprocess.js';
import { cacheDir } from '../../util/cache.js';
import { sha256OfFiles, sha256OfText } from '../../util/hash.js';
import { makeDir, readJson, statOrNull, writeFileAtomic, writeJsonAtomic } from '../../util/fs.js';
import type { Logger } from '../../util/log.js';
import { silentLogger } from '../../util/log.js';
import type { CutSpec, EngineLoadOptions, FeatureExtractor, PoolMode, Precision } from '../engine.js';
import { defaultFeatureLayer, imageInputOf, loadLayersModel } from '../tfjs.js';
import { EXPORTER_VERSION, exportToOnnx } from './export.js';
import { OnnxRuntimeError, assertDeviceAvailable, startOnDevice, type DeviceOptions, type FeatureGraph } from './session.js';
import { graphVariant } from './variant.js';

export { OnnxRuntimeError, onnxRuntimeLoads, onnxRuntimeVersion, type FeatureGraph } from './session.js';

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
 * and cached under `<cache>/onnx/`, keyed by model.json, weights digest, cut and exporter version.
 * A cached export onnxruntime cannot load is exported again, once.
 * @throws UnsupportedLayerError when a layer cannot be exported, OnnxRuntimeError when
 *   onnxruntime cannot run the export (the caller may fall back to tfjs)
 */
export async function loadOnnxExtractor(source: OnnxSource, opts: Partial<EngineLoadOptions> & GraphRunOptions = {}): Promise<FeatureExtractor> {
  const logger = opts.logger ?? silentLogger;
  const cut = { layers: opts.layers ?? [], pool: opts.pool ?? 'avg' };
  return startCachedGraph((fresh) => exportedModel(source, cut, logger, fresh), { ...opts, logger, redo: 'exporting the model again' });
}

/** How the engine runs a graph: device, precision and what it takes as input. */
export interface GraphRunOptions extends DeviceOptions {
  /** Default fp32. */
  precision?: Precision;
  /** The images' normalisation: with `pixels`, it runs inside the graph on raw uint8 pixels. */
  preprocess?: PreprocessMode;
  /** Take raw uint8 pixels (`inputType` uint8) instead of preprocessed float32 values. */
  pixels?: boolean;
}

/**
 * Starts the engine on the graph `prepare(false)` gives (from the cache when it can), in the
 * precision and with the input asked for (a variant made from it and cached beside it), on the
 * device asked for. A cached graph onnxruntime cannot load is prepared again, once
 * (`prepare(true)`), saying `redo`.
 */
export async function startCachedGraph(
  prepare: (fresh: boolean) => Promise<FeatureGraph>,
  opts: GraphRunOptions & { redo: string },
): Promise<FeatureExtractor> {
  const logger = opts.logger ?? silentLogger;
  assertDeviceAvailable(opts.device);
  const variant = (graph: FeatureGraph) => graphVariant(graph, { precision: opts.precision ?? 'fp32', preprocess: opts.preprocess, pixels: opts.pixels ?? false }, { logger, threads: opts.threads });
  const graph = await prepare(false);
  try {
    return await startOnDevice(await variant(graph), opts);
  } catch (err) {
    if (!graph.cached || !(err instanceof OnnxRuntimeError)) throw err;
    logger.warn(`${errorMessage(err)}; ${opts.redo}`);
    return startOnDevice(await variant(await prepare(true)), opts);
  }
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
