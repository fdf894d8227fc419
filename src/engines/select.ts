import * as tf from '@tensorflow/tfjs';
import { CnnfeatError } from '../errors.js';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { backendOf, engineName, initBackend, type BackendChoice } from './backend.js';
import { ENGINE_CHOICES, type EngineChoice, type EngineLoadOptions, type EngineName, type FeatureExtractor } from './engine.js';
import { loadOnnxExtractor, OnnxRuntimeError, onnxRuntimeLoads, onnxRuntimeVersion } from './onnx/engine.js';
import { UnsupportedLayerError } from './onnx/export.js';
import { loadUserOnnxExtractor } from './onnx/user-graph.js';
import { loadExtractor } from './tfjs.js';
import { loadGraphExtractor } from './tfjs-graph.js';
import type { ModelFormat } from '../formats/model-format.js';

/** The model to load: where it is, its weights digest, and what its card says. */
export interface EngineSource {
  /** A TensorFlow.js model.json, or an ONNX file. */
  modelFile: string;
  /** Digest of the weights (the key of cached exports and cut graphs). */
  weightsDigest: string;
  /** Default: a Keras LayersModel. */
  format?: ModelFormat;
  /** Input size when the graph leaves it open. */
  input?: { height: number; width: number };
}

/** How to load a feature extractor. */
export interface EngineRequest extends Partial<EngineLoadOptions> {
  engine?: EngineChoice;
  /** The images' normalisation (a uint8 ONNX model takes raw pixels only). */
  preprocess?: string;
  logger?: Logger;
}

/**
 * Loads `model` cut at `req.layers` on the requested engine. `auto` takes onnxruntime when the
 * model exports to ONNX, else the best tfjs backend (tfjs-node, else tfjs-wasm), saying why.
 * ONNX models run on onnxruntime, GraphModels on tfjs.
 */
export async function loadEngine(model: EngineSource, req: EngineRequest = {}): Promise<FeatureExtractor> {
  const engine = req.engine ?? 'auto';
  if (model.format === 'graph') return loadGraphModel(model, req);
  if (model.format === 'onnx') return loadOnnxModel(model, req);
  const keras = { modelJson: model.modelFile, weightsDigest: model.weightsDigest };
  if (engine === 'onnx') return loadOnnxExtractor(keras, req);
  if (engine !== 'auto') return loadExtractor(model.modelFile, { ...req, backend: tfjsBackendOf(engine) });
  try {
    return await loadOnnxExtractor(keras, req);
  } catch (err) {
    if (!(err instanceof UnsupportedLayerError || err instanceof OnnxRuntimeError)) throw err;
    const problem = err instanceof UnsupportedLayerError ? err.problem : err.message;
    (req.logger ?? silentLogger).warn(`${problem}; running on tfjs instead (much slower)`);
    return loadExtractor(model.modelFile, { ...req, backend: 'auto' });
  }
}

/** GraphModels (tfjs-converter output) run on tfjs only: the exporter reads Keras layers. */
function loadGraphModel(model: EngineSource, req: EngineRequest): Promise<FeatureExtractor> {
  if (req.engine === 'onnx') {
    throw new CnnfeatError(`${model.modelFile}: a TensorFlow.js GraphModel cannot be exported to ONNX (only Keras LayersModels can); use the auto or tfjs engine (--engine)`);
  }
  const backend = !req.engine || req.engine === 'auto' ? 'auto' : tfjsBackendOf(req.engine);
  return loadGraphExtractor(model.modelFile, { ...req, backend, input: model.input });
}

/** ONNX models run on onnxruntime only. */
function loadOnnxModel(model: EngineSource, req: EngineRequest): Promise<FeatureExtractor> {
  if (req.engine && req.engine !== 'auto' && req.engine !== 'onnx') {
    throw new CnnfeatError(`${model.modelFile}: an ONNX model runs on onnxruntime only; use the auto or onnx engine (--engine)`);
  }
  return loadUserOnnxExtractor(model, req);
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
    { engine: 'onnx', available: onnxRuntimeLoads(), version: onnxRuntimeVersion() },
    { engine: 'tfjs-node', available: tfjsFallback === 'tfjs-node', version: tfjsFallback === 'tfjs-node' ? tf.version.tfjs : null },
    { engine: 'tfjs-wasm', available: true, version: tf.version.tfjs },
    { engine: 'tfjs-cpu', available: true, version: tf.version.tfjs },
  ];
  return { engines, tfjsFallback };
}
