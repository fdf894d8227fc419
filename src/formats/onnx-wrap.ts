// Wraps a user's ONNX graph into the graph the onnx engine runs: input `input` float32 [N, H, W, 3]
// (NHWC, as decoded), the user's nodes pruned to the cut, each cut tensor pooled or flattened, and
// one output `features` [N, D].
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { onnx } from './onnx-proto.js';
import { CnnfeatError } from '../errors.js';
import { writeAllAt, writeFileAtomic } from '../util/fs.js';
import { GraphBuilder } from './onnx-graph.js';
import { GraphIndex } from './onnx-cut.js';
import {
  elementTypeCode,
  externalRef,
  isExternal,
  type GraphProto,
  type Layout,
  type ModelProto,
  type NodeProto,
  type OnnxModel,
  type TensorProto,
} from './onnx-model.js';


/** Names of the wrapped graph's input and output (what the onnx engine's worker feeds and reads). */
export const WRAPPED_INPUT = 'input';
export const WRAPPED_OUTPUT = 'features';

/** A cut tensor as a probe run found it: its shape for one image, its element type and layout. */
export interface CutTensor {
  name: string;
  /** Shape with the batch dimension first. */
  shape: number[];
  type: string;
  /** Where a rank-4 tensor's channels are. */
  layout: Layout;
}

/** What to build around the user's graph. */
export interface WrapRequest {
  /** Height × width of the images fed. */
  size: { height: number; width: number };
  /** The batch dimension of the new input: symbolic, or 1 for a model that only runs image by image. */
  batch: 'N' | 1;
  /** Tensors to cut at (user names). */
  cut: string[];
  /**
   * How the cut tensors become one `features` output: rank-4 tensors pooled over their spatial
   * axes by each of `pools` in turn, rank-2 tensors taken as they are, others flattened; then
   * concatenated. Without it, the cut tensors themselves are the outputs (a probe graph).
   */
  features?: { tensors: CutTensor[]; pools: ('avg' | 'max')[] };
}

/** The wrapped model and, with `features`, the length of a feature row. */
export interface WrappedModel {
  proto: ModelProto;
  dim: number;
  pooled: boolean;
}

/**
 * Builds the wrapped graph: the new NHWC float32 input is transposed to NCHW (for an NCHW model)
 * and cast to the model's element type, then feeds the user's image input; only the user's nodes
 * the cut needs are kept; user tensors called `input` or `features` are renamed.
 * @throws CnnfeatError when the cut needs a graph input other than the image
 */
export function wrapModel(model: OnnxModel, req: WrapRequest): WrappedModel {
  const graph = model.proto.graph!;
  const index = new GraphIndex(graph);
  const builder = new GraphBuilder([...namesIn(graph), WRAPPED_INPUT, WRAPPED_OUTPUT]);
  const renames = new Map<string, string>();
  for (const name of [WRAPPED_INPUT, WRAPPED_OUTPUT]) if (namesIn(graph).has(name)) renames.set(name, builder.uniqueName(`${name}_model`));
  const to = (name: string) => renames.get(name) ?? name;

  const { nodes, reads } = index.needed(req.cut);
  const foreign = [...reads].filter((r) => r !== model.input.name && !index.initializers.has(r));
  if (foreign.length > 0) {
    throw new CnnfeatError(`${model.file}: the cut needs the graph input(s) ${foreign.map((f) => `"${f}"`).join(', ')} besides the image "${model.input.name}"; cnnfeat feeds the image only`);
  }
  feedImage(builder, model, req, to(model.input.name));
  const prefix = builder.parts().nodes;
  const { dim, pooled } = req.features ? addFeatures(builder, req.features, req.batch, to) : { dim: 0, pooled: false };
  const added = builder.parts();
  const initializers = [...reads].filter((r) => index.initializers.has(r)).map((r) => renamedTensor(index.initializers.get(r)!, to(r)));
  const initializerInputs = (graph.input ?? []).filter((i) => reads.has(i.name ?? '') && index.initializers.has(i.name ?? ''));
  const outputs = req.features ? added.outputs : req.cut.map((name) => onnx.ValueInfoProto.create({ name: to(name) }));
  const wrapped = onnx.GraphProto.create({
    name: graph.name || 'model',
    node: [...prefix, ...nodes.map((n) => renamedNode(n, to)), ...added.nodes.slice(prefix.length)],
    initializer: [...initializers, ...added.initializers],
    input: [...added.inputs, ...initializerInputs.map((i) => onnx.ValueInfoProto.create({ ...i, name: to(i.name ?? '') }))],
    output: outputs,
  });
  const opsets = model.proto.opsetImport ?? [];
  const proto = onnx.ModelProto.create({
    irVersion: model.proto.irVersion,
    opsetImport: model.opset > 0 ? opsets : [...opsets, { domain: '', version: 13 }],
    producerName: 'cnnfeat',
    docString: `cnnfeat: ${path.basename(model.file)} cut at ${req.cut.join(', ')}`,
    graph: wrapped,
    functions: model.proto.functions ?? [],
  });
  return { proto, dim, pooled };
}

/** `input` [N, H, W, 3] float32 → (Transpose to NCHW) → (Cast) → the user's image tensor. */
function feedImage(builder: GraphBuilder, model: OnnxModel, req: WrapRequest, imageName: string): void {
  builder.addInput(WRAPPED_INPUT, [req.batch, req.size.height, req.size.width, 3]);
  const steps: [string, Record<string, number | number[]>][] = [];
  if (model.input.layout === 'NCHW') steps.push(['Transpose', { perm: [0, 3, 1, 2] }]);
  if (model.input.type !== 'float32') steps.push(['Cast', { to: elementTypeCode(model.input.type) }]);
  if (steps.length === 0) steps.push(['Identity', {}]);
  let x = WRAPPED_INPUT;
  steps.forEach(([op, attrs], k) => {
    x = builder.addNode(op, [x], 'cnnfeat/image', attrs, k === steps.length - 1 ? { output: imageName } : {});
  });
}

/** Pools, flattens and concatenates the cut tensors into `features`; returns the row length. */
function addFeatures(
  builder: GraphBuilder,
  { tensors, pools }: NonNullable<WrapRequest['features']>,
  batch: 'N' | 1,
  to: (name: string) => string,
): { dim: number; pooled: boolean } {
  const parts: string[] = [];
  let dim = 0;
  let pooled = false;
  for (const t of tensors) {
    const base = `cnnfeat/${t.name}`;
    let v = to(t.name);
    if (t.type !== 'float32') v = builder.addNode('Cast', [v], `${base}/float`, { to: onnx.TensorProto.DataType.FLOAT });
    if (t.shape.length === 4) {
      pooled = true;
      if (t.layout === 'NHWC') v = builder.addNode('Transpose', [v], `${base}/nchw`, { perm: [0, 3, 1, 2] });
      for (const mode of pools) {
        const pool = builder.addNode(mode === 'avg' ? 'GlobalAveragePool' : 'GlobalMaxPool', [v], `${base}/${mode}`);
        parts.push(builder.addNode('Flatten', [pool], `${base}/${mode}`, { axis: 1 }));
      }
      dim += t.shape[t.layout === 'NCHW' ? 1 : 3]! * pools.length;
    } else {
      parts.push(t.shape.length === 2 ? v : builder.addNode('Flatten', [v], `${base}/flat`, { axis: 1 }));
      dim += t.shape.slice(1).reduce((a, b) => a * b, 1);
    }
  }
  const output = { output: WRAPPED_OUTPUT };
  if (parts.length === 1) builder.addNode('Identity', parts, WRAPPED_OUTPUT, {}, output);
  else builder.addNode('Concat', parts, WRAPPED_OUTPUT, { axis: 1 }, output);
  builder.addOutput(WRAPPED_OUTPUT, [batch, dim]);
  return { dim, pooled };
}

/** Every name used in a graph (tensors, nodes), subgraphs included. */
function namesIn(graph: GraphProto, into = new Set<string>()): Set<string> {
  for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? []), ...(graph.initializer ?? [])]) into.add(v.name ?? '');
  for (const node of graph.node ?? []) {
    into.add(node.name ?? '');
    for (const name of [...(node.input ?? []), ...(node.output ?? [])]) into.add(name);
    for (const a of node.attribute ?? []) for (const g of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) namesIn(g, into);
  }
  into.delete('');
  return into;
}

function renamedNode(node: NodeProto, to: (name: string) => string): NodeProto {
  const attribute = (node.attribute ?? []).map((a) =>
    a.g || a.graphs?.length ? onnx.AttributeProto.create({ ...a, g: a.g ? renamedGraph(a.g, to) : null, graphs: (a.graphs ?? []).map((g) => renamedGraph(g, to)) }) : a,
  );
  return onnx.NodeProto.create({ ...node, input: (node.input ?? []).map(to), output: (node.output ?? []).map(to), attribute });
}

function renamedGraph(graph: GraphProto, to: (name: string) => string): GraphProto {
  const rename = <T extends { name?: string | null }>(v: T): T => ({ ...v, name: to(v.name ?? '') });
  return onnx.GraphProto.create({
    ...graph,
    node: (graph.node ?? []).map((n) => renamedNode(n, to)),
    input: (graph.input ?? []).map(rename),
    output: (graph.output ?? []).map(rename),
    initializer: (graph.initializer ?? []).map(rename),
    valueInfo: (graph.valueInfo ?? []).map(rename),
  });
}

function renamedTensor(tensor: TensorProto, name: string): TensorProto {
  return name === tensor.name ? tensor : onnx.TensorProto.create({ ...tensor, name });
}

/** A tensor's external bytes, read from the file beside the model. */
async function readExternal(tensor: TensorProto, modelFile: string): Promise<Buffer> {
  const ref = externalRef(tensor, modelFile);
  const handle = await fsp.open(path.join(path.dirname(modelFile), ref.location), 'r');
  try {
    const length = ref.length ?? (await handle.stat()).size - ref.offset;
    const bytes = Buffer.alloc(length);
    const { bytesRead } = await handle.read(bytes, 0, length, ref.offset);
    if (bytesRead !== length) throw new CnnfeatError(`${modelFile}: external data file ${ref.location} is truncated; copy it again`);
    return bytes;
  } finally {
    await handle.close();
  }
}

/**
 * The model's bytes with its external data read into it (for a session made from memory, such
 * as a probe). Models whose data is kept outside because they exceed protobuf's 2 GB are refused.
 */
export async function bytesWithData(proto: ModelProto, modelFile: string): Promise<Uint8Array> {
  const initializer = [];
  for (const t of proto.graph?.initializer ?? []) {
    initializer.push(isExternal(t) ? onnx.TensorProto.create({ ...t, rawData: await readExternal(t, modelFile), dataLocation: 0, externalData: [] }) : t);
  }
  return encodeModel(onnx.ModelProto.create({ ...proto, graph: onnx.GraphProto.create({ ...proto.graph, initializer }) }), modelFile);
}

/**
 * Writes the model to `file`; initializers the user's model keeps in external data are copied
 * into `<file without .onnx>.data` beside it (4 kB-aligned, as onnxruntime maps them), the rest
 * stay inline. Returns the files written.
 */
export async function writeModelFiles(proto: ModelProto, modelFile: string, file: string): Promise<string[]> {
  const external = (proto.graph?.initializer ?? []).filter(isExternal);
  if (external.length === 0) {
    await writeFileAtomic(file, encodeModel(proto, modelFile));
    return [file];
  }
  const dataFile = file.replace(/\.onnx$/, '') + '.data';
  const tmp = `${dataFile}.${process.pid}.tmp`;
  const moved = new Map<TensorProto, TensorProto>();
  const handle = await fsp.open(tmp, 'w');
  try {
    let offset = 0;
    for (const t of external) {
      const bytes = await readExternal(t, modelFile);
      await writeAllAt(handle, bytes, offset);
      const entries = [{ key: 'location', value: path.basename(dataFile) }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(bytes.length) }];
      moved.set(t, onnx.TensorProto.create({ ...t, externalData: entries }));
      offset += Math.ceil(bytes.length / 4096) * 4096;
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsp.rename(tmp, dataFile);
  const initializer = (proto.graph?.initializer ?? []).map((t) => moved.get(t) ?? t);
  await writeFileAtomic(file, encodeModel(onnx.ModelProto.create({ ...proto, graph: onnx.GraphProto.create({ ...proto.graph, initializer }) }), modelFile));
  return [dataFile, file];
}

function encodeModel(proto: ModelProto, modelFile: string): Uint8Array {
  try {
    return onnx.ModelProto.encode(proto).finish();
  } catch (err) {
    throw new CnnfeatError(`${modelFile}: the cut model could not be written (${(err as Error).message}); models above 2 GB are not supported`);
  }
}
