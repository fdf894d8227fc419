import * as tf from '@tensorflow/tfjs';
import { CnnfeatError, errorMessage } from '../errors.js';
import { readModelJson } from '../formats/tfjs-model.js';
import { initBackend, tfjsDescription, type BackendChoice, type BackendName } from './backend.js';
import type { EngineDescription, FeatureExtractor, PoolMode } from './engine.js';
import { modelFileHandler } from './tfjs-io.js';
import { tfjsExtractor } from './tfjs-extractor.js';
import { unknownCutError } from '../util/names.js';

/** Options of {@link loadGraphExtractor}. */
export interface GraphExtractorOptions {
  /** Graph nodes to cut at, concatenated in this order (default: the last global pooling node). */
  layers?: string[];
  /** Pooling of spatial (rank-4) outputs; default `avg`. */
  pool?: PoolMode;
  backend?: BackendChoice;
  /** Input size when the graph leaves it open (e.g. from a model card). */
  input?: { height: number; width: number };
}

/** A node of a GraphModel as listed by `cnnfeat layers`. */
export interface GraphNodeInfo {
  name: string;
  op: string;
  /** Output shape for one image (batch dimension null), or null when it could not be computed. */
  outputShape: (number | null)[] | null;
  /** A global pooling output (a vector per image): a likely feature node. */
  feature: boolean;
}

/** Ops that are not worth listing: weights and graph plumbing. */
const HIDDEN_OPS = new Set(['Const', 'NoOp']);
/** Ops whose vector output (rank 2, or rank 4 with 1×1 spatial size) is a global pooling. */
const POOL_OPS = new Set(['AvgPool', 'MaxPool', 'Mean', 'Max']);

interface TopologyNode {
  name: string;
  op: string;
}

/** A GraphModel loaded from disk with the facts the extractor needs. */
interface LoadedGraph {
  model: tf.GraphModel;
  nodes: TopologyNode[];
  height: number;
  width: number;
  backend: BackendName;
}

async function loadGraph(modelJson: string, backend: BackendChoice, input?: { height: number; width: number }): Promise<LoadedGraph> {
  const name = await initBackend(backend);
  const { json, format } = await readModelJson(modelJson);
  if (format !== 'graph') throw new CnnfeatError(`${modelJson}: not a TensorFlow.js GraphModel (it is a LayersModel)`);
  let model: tf.GraphModel;
  try {
    model = await tf.loadGraphModel(modelFileHandler(modelJson));
  } catch (err) {
    if (err instanceof CnnfeatError) throw err;
    throw new CnnfeatError(`${modelJson}: could not load the graph model: ${errorMessage(err)}`);
  }
  try {
    const { height, width } = inputSize(model, modelJson, input);
    const nodes = ((json.modelTopology as { node?: TopologyNode[] }).node ?? []).map((n) => ({ name: n.name, op: n.op }));
    return { model, nodes, height, width, backend: name };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

function inputSize(model: tf.GraphModel, modelJson: string, given?: { height: number; width: number }): { height: number; width: number } {
  if (model.inputs.length !== 1) {
    throw new CnnfeatError(`${modelJson}: the graph has ${model.inputs.length} inputs (${model.inputNodes.join(', ')}); cnnfeat feeds one image tensor`);
  }
  const shape = model.inputs[0]!.shape ?? [];
  if (shape.length === 0 && given) return given; // a Placeholder without a shape attribute
  const [, h, w, c] = shape;
  if (shape.length !== 4 || (c !== undefined && c !== -1 && c !== 3)) {
    throw new CnnfeatError(`${modelJson}: expected an NHWC RGB image input [-1, H, W, 3], got [${shape.join(', ')}]`);
  }
  if (h && h > 0 && w && w > 0) return { height: h, width: w };
  if (given) return given;
  throw new CnnfeatError(`${modelJson}: the graph's input size is open ([${shape.join(', ')}]); give it with \`cnnfeat models add … --input HxW\``);
}

/** Checks node names (`name` or `name:k`) against the graph's topology. */
function checkNodes(graph: LoadedGraph, names: string[], modelJson: string): void {
  const known = new Set(graph.nodes.map((n) => n.name));
  for (const name of names) {
    if (!known.has(name.replace(/:\d+$/, ''))) {
      throw unknownCutError('node', name, [...known], modelJson);
    }
  }
}

/** Runs one zero image and returns the shapes of `names` (batch of 1), disposing everything. */
function probeShapes(graph: LoadedGraph, names: string[]): number[][] {
  return tf.tidy(() => {
    const outputs = graph.model.execute(tf.zeros([1, graph.height, graph.width, 3]), names);
    return (Array.isArray(outputs) ? outputs : [outputs]).map((t) => t.shape);
  });
}

function isVectorShape(shape: number[]): boolean {
  return shape.length === 2 || (shape.length === 4 && shape[1]! * shape[2]! === 1);
}

/**
 * Lists the nodes of a GraphModel (weights and plumbing left out) with their output shapes
 * (computed by one forward pass of a blank image) and marks the global pooling outputs, the likely
 * feature nodes; the default is the last of them.
 */
export async function listGraphNodes(
  modelJson: string,
  { backend = 'auto', input }: { backend?: BackendChoice; input?: { height: number; width: number } } = {},
): Promise<{ nodes: GraphNodeInfo[]; defaultNode: string | null; input: { height: number; width: number } }> {
  const graph = await loadGraph(modelJson, backend, input);
  try {
    const nodes = describeNodes(graph);
    const defaultNode = nodes.filter((n) => n.feature).at(-1)?.name ?? null;
    return { nodes, defaultNode, input: { height: graph.height, width: graph.width } };
  } finally {
    graph.model.dispose();
  }
}

function describeNodes(graph: LoadedGraph): GraphNodeInfo[] {
  const listed = graph.nodes.filter((n) => !HIDDEN_OPS.has(n.op));
  let shapes: (number[] | null)[];
  try {
    shapes = probeShapes(graph, listed.map((n) => n.name));
  } catch {
    shapes = listed.map(() => null); // e.g. control flow that needs executeAsync: list names and ops only
  }
  return listed.map((node, i) => {
    const shape = shapes[i] ?? null;
    return {
      name: node.name,
      op: node.op,
      outputShape: shape ? [null, ...shape.slice(1)] : null,
      feature: POOL_OPS.has(node.op) && (shape ? isVectorShape(shape) : node.op === 'AvgPool' || node.op === 'Mean'),
    };
  });
}

/**
 * Loads a TensorFlow.js GraphModel cut at one or more nodes, as `@tensorflow-models/mobilenet`
 * takes its embedding: `model.execute(x, nodeNames)`. Spatial (rank-4) outputs are pooled per
 * `pool`, rank-2 outputs taken as they are, others flattened; the parts are
 * concatenated in the order given. Inference runs inside `tf.tidy`, after a warm-up run.
 */
export async function loadGraphExtractor(modelJson: string, opts: GraphExtractorOptions = {}): Promise<FeatureExtractor> {
  const pool = opts.pool ?? 'avg';
  const graph = await loadGraph(modelJson, opts.backend ?? 'auto', opts.input);
  try {
    let layers = opts.layers?.length ? opts.layers : null;
    if (!layers) {
      const fallback = describeNodes(graph).filter((n) => n.feature).at(-1)?.name;
      if (!fallback) throw new CnnfeatError(`${modelJson}: no global pooling node to cut at; name the node to cut at (--layer; see \`cnnfeat layers\`)`);
      layers = [fallback];
    }
    checkNodes(graph, layers, modelJson);
    let shapes: number[][];
    try {
      shapes = probeShapes(graph, layers);
    } catch (err) {
      throw new CnnfeatError(`${modelJson}: could not run the graph up to ${layers.join(', ')}: ${errorMessage(err)}`);
    }
    const extractor = buildExtractor(graph, layers, shapes, pool, await tfjsDescription(graph.backend));
    await extractor.run(new Float32Array(graph.height * graph.width * 3), 1);
    return extractor;
  } catch (err) {
    graph.model.dispose();
    throw err;
  }
}

function buildExtractor(graph: LoadedGraph, layers: string[], shapes: number[][], pool: PoolMode, description: EngineDescription): FeatureExtractor {
  return tfjsExtractor({
    layers,
    shapes,
    input: { height: graph.height, width: graph.width },
    pool,
    description,
    forward: (x) => graph.model.execute(x, layers),
    dispose: () => graph.model.dispose(),
  });
}
