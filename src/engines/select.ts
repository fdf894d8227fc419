import * as tf from '@tensorflow/tfjs';
import { CnnfeatError } from '../errors.js';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { backendOf, engineName, initBackend, type BackendChoice } from './backend.js';
import type { EngineChoice, EngineLoadOptions, EngineName, FeatureExtractor } from './engine.js';
import { loadOnnxExtractor, onnxRuntimeVersion, type OnnxSource } from './onnx/engine.js';
import { UnsupportedLayerError } from './onnx/export.js';
import { loadExtractor } from './tfjs.js';

/** `--engine` values. */
export const ENGINE_CHOICES: readonly EngineChoice[] = ['auto', 'onnx', 'tfjs', 'tfjs-node', 'tfjs-wasm', 'tfjs-cpu'];

/** How to load a feature extractor. */
export interface EngineRequest extends Partial<EngineLoadOptions> {
  engine?: EngineChoice;
  logger?: Logger;
}

/**
 * Loads `model` cut at `req.layers` on the requested engine. `auto` takes onnxruntime when the
 * model exports to ONNX, else the best tfjs backend (tfjs-node, else tfjs-wasm), saying why.
 */
export async function loadEngine(model: OnnxSource, req: EngineRequest = {}): Promise<FeatureExtractor> {
  const engine = req.engine ?? 'auto';
  if (engine === 'onnx') return loadOnnxExtractor(model, req);
  if (engine !== 'auto') return loadExtractor(model.modelJson, { ...req, backend: tfjsBackendOf(engine) });
  try {
    return await loadOnnxExtractor(model, req);
  } catch (err) {
    if (!(err instanceof UnsupportedLayerError)) throw err;
    (req.logger ?? silentLogger).info(`${err.message}; running on tfjs instead`);
    return loadExtractor(model.modelJson, { ...req, backend: 'auto' });
  }
}

function tfjsBackendOf(engine: Exclude<EngineChoice, 'auto' | 'onnx'>): BackendChoice {
  if (engine === 'tfjs') return 'auto';
  const backend = backendOf(engine);
  if (!backend) throw new CnnfeatError(`--engine ${engine}: unknown engine; use one of ${ENGINE_CHOICES.join(', ')}`);
  return backend;
}

/** An engine as `cnnfeat info` lists it. */
export interface EngineStatus {
  engine: EngineName;
  available: boolean;
  version: string | null;
}

/** Which engines this installation can run, and the tfjs backend `auto` falls back to. */
export async function engineStatus(): Promise<{ engines: EngineStatus[]; tfjsFallback: EngineName }> {
  const tfjsFallback = engineName(await initBackend('auto'));
  const engines: EngineStatus[] = [
    { engine: 'onnx', available: true, version: onnxRuntimeVersion() },
    { engine: 'tfjs-node', available: tfjsFallback === 'tfjs-node', version: tfjsFallback === 'tfjs-node' ? tf.version.tfjs : null },
    { engine: 'tfjs-wasm', available: true, version: tf.version.tfjs },
    { engine: 'tfjs-cpu', available: true, version: tf.version.tfjs },
  ];
  return { engines, tfjsFallback };
}
