import * as tf from '@tensorflow/tfjs';
import { CnnfeatError } from '../errors.js';
import { silentLogger } from '../util/log.js';
import { backendOf, engineName, initBackend, type BackendChoice } from './backend.js';
import { ENGINE_CHOICES, type EngineChoice, type EngineLoadOptions, type EngineName, type FeatureExtractor } from './engine.js';
import { loadOnnxExtractor, OnnxRuntimeError, onnxRuntimeLoads, onnxRuntimeVersion, type GraphRunOptions } from './onnx/engine.js';
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

/**
 * How to load a feature extractor: engine, cut, and for the onnx engine the device, precision and
 * input (`pixels`: raw uint8 pixels, normalised by `preprocess` inside the graph). The tfjs engines
 * run on the CPU in float32 with preprocessed input.
 */
export interface EngineRequest extends Partial<EngineLoadOptions>, GraphRunOptions {
  engine?: EngineChoice;
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
  if (engine !== 'auto') return loadTfjs(model, req, tfjsBackendOf(engine));
  try {
    return await loadOnnxExtractor(keras, req);
  } catch (err) {
    if (!(err instanceof UnsupportedLayerError || err instanceof OnnxRuntimeError)) throw err;
    const problem = err instanceof UnsupportedLayerError ? err.problem : err.message;
    assertTfjsCanRun(req, problem);
    (req.logger ?? silentLogger).warn(`${problem}; running on tfjs instead (much slower, on the CPU)`);
    return loadExtractor(model.modelFile, { ...req, backend: 'auto' });
  }
}

function loadTfjs(model: EngineSource, req: EngineRequest, backend: BackendChoice): Promise<FeatureExtractor> {
  assertTfjsCanRun(req, `--engine ${req.engine}`);
  return loadExtractor(model.modelFile, { ...req, backend });
}

/** The tfjs engines run float32 on the CPU: a GPU device or float16 asked for is refused, naming why tfjs was chosen. */
function assertTfjsCanRun(req: EngineRequest, why: string): void {
  if (req.precision === 'fp16') throw new CnnfeatError(`${why}: the tfjs engines compute in float32 only; use --precision fp32 (or a model the onnx engine runs)`);
  if (req.device && req.device.kind !== 'auto' && req.device.kind !== 'cpu') {
    throw new CnnfeatError(`${why}: the tfjs engines run on the CPU only; use --device cpu or auto (or a model the onnx engine runs)`);
  }
}

/** GraphModels (tfjs-converter output) run on tfjs only: the exporter reads Keras layers. */
function loadGraphModel(model: EngineSource, req: EngineRequest): Promise<FeatureExtractor> {
  if (req.engine === 'onnx') {
    throw new CnnfeatError(`${model.modelFile}: a TensorFlow.js GraphModel cannot be exported to ONNX (only Keras LayersModels can); use the auto or tfjs engine (--engine)`);
  }
  const backend = !req.engine || req.engine === 'auto' ? 'auto' : tfjsBackendOf(req.engine);
  assertTfjsCanRun(req, `${model.modelFile}: a TensorFlow.js GraphModel runs on tfjs`);
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
