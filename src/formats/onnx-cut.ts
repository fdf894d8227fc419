// Finding where to cut an ONNX graph: which tensors depend on the image, which nodes a cut needs,
// the likely feature tensors, the default cut and the layout of a spatial tensor.
import { onnx } from './onnx-proto.js';
import { toInt, type GraphProto, type Layout, type NodeProto, type TensorProto } from './onnx-model.js';


/** Ops that take and give channel-first (NCHW) tensors: their image operand fixes a tensor's layout. */
const CHANNEL_FIRST_OPS = new Set([
  'Conv', 'ConvTranspose', 'ConvInteger', 'QLinearConv', 'MaxPool', 'AveragePool', 'LpPool', 'GlobalAveragePool',
  'GlobalMaxPool', 'GlobalLpPool', 'BatchNormalization', 'InstanceNormalization', 'LRN', 'DepthToSpace', 'SpaceToDepth',
]);
/** Ops whose output has the layout of their inputs (element-wise, padding, resizing, concatenation). */
const LAYOUT_KEEPING_OPS = new Set([
  'Relu', 'LeakyRelu', 'PRelu', 'Elu', 'Selu', 'Celu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Clip', 'Softplus',
  'Softsign', 'Gelu', 'Mish', 'Erf', 'Abs', 'Neg', 'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Pow', 'Add', 'Sub', 'Mul', 'Div',
  'Max', 'Min', 'Sum', 'Mean', 'Identity', 'Dropout', 'Cast', 'Pad', 'Resize', 'Upsample', 'Concat', 'QuantizeLinear',
  'DequantizeLinear',
]);
/** Ops that may follow a classifier head's Gemm/MatMul before the graph output (bias, softmax, reshaping). */
const HEAD_TAIL_OPS = new Set(['Add', 'Softmax', 'LogSoftmax', 'Sigmoid', 'Identity', 'Flatten', 'Reshape', 'Squeeze', 'Dropout', 'Cast']);

/** The node producing a tensor, and which of its outputs it is. */
interface Producer {
  node: NodeProto;
  index: number;
}

/** Producers and consumers of every tensor of a graph, for walking it in both directions. */
export class GraphIndex {
  readonly nodes: NodeProto[];
  readonly producers = new Map<string, Producer>();
  readonly consumers = new Map<string, NodeProto[]>();
  readonly initializers: Map<string, TensorProto>;
  readonly outputs: string[];

  constructor(readonly graph: GraphProto) {
    this.nodes = graph.node ?? [];
    this.initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
    this.outputs = (graph.output ?? []).map((o) => o.name ?? '');
    for (const node of this.nodes) {
      (node.output ?? []).forEach((name, index) => name && this.producers.set(name, { node, index }));
      for (const name of nodeInputs(node)) {
        const list = this.consumers.get(name) ?? [];
        list.push(node);
        this.consumers.set(name, list);
      }
    }
  }

  /** Every tensor computed from `input` (the input itself included). */
  dependents(input: string): Set<string> {
    const reached = new Set([input]);
    for (const node of this.nodes) {
      if (nodeInputs(node).some((name) => reached.has(name))) for (const out of node.output ?? []) if (out) reached.add(out);
    }
    return reached;
  }

  /** The nodes `targets` need, in graph order, and the tensors they read that no node produces. */
  needed(targets: string[]): { nodes: NodeProto[]; reads: Set<string> } {
    const keep = new Set<NodeProto>();
    const reads = new Set<string>();
    const stack = [...targets];
    const seen = new Set<string>();
    while (stack.length > 0) {
      const name = stack.pop()!;
      if (seen.has(name)) continue;
      seen.add(name);
      const producer = this.producers.get(name);
      if (!producer) {
        reads.add(name);
        continue;
      }
      if (keep.has(producer.node)) continue;
      keep.add(producer.node);
      stack.push(...nodeInputs(producer.node));
    }
    return { nodes: this.nodes.filter((n) => keep.has(n)), reads };
  }

  /** Names of every node output, in graph order. */
  tensorNames(): string[] {
    return this.nodes.flatMap((n) => (n.output ?? []).filter(Boolean));
  }

  /** The constant int64 values of a tensor given as an initializer or by a Constant node; null otherwise. */
  constantInts(name: string): number[] | null {
    const tensor = this.initializers.get(name) ?? constantOf(this.producers.get(name)?.node);
    return tensor ? int64Values(tensor) : null;
  }
}

/** A node's inputs, including the outer tensors its subgraphs (If/Loop/Scan bodies) read. */
export function nodeInputs(node: NodeProto): string[] {
  const direct = (node.input ?? []).filter(Boolean);
  const graphs = (node.attribute ?? []).flatMap((a) => [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]);
  return graphs.length === 0 ? direct : [...new Set([...direct, ...graphs.flatMap(outerReads)])];
}

/** Names a subgraph reads but does not define itself. */
function outerReads(graph: GraphProto): string[] {
  const defined = new Set([...(graph.input ?? []).map((i) => i.name), ...(graph.initializer ?? []).map((t) => t.name)]);
  for (const node of graph.node ?? []) for (const out of node.output ?? []) defined.add(out);
  return (graph.node ?? []).flatMap(nodeInputs).filter((name) => !defined.has(name));
}

function constantOf(node: NodeProto | undefined): TensorProto | null {
  if (node?.opType !== 'Constant') return null;
  const attr = (node.attribute ?? []).find((a) => a.name === 'value' || a.name === 'value_ints');
  if (attr?.t) return attr.t;
  if (attr?.ints) return { dataType: onnx.TensorProto.DataType.INT64, int64Data: attr.ints };
  return null;
}

function int64Values(tensor: TensorProto): number[] | null {
  if (tensor.dataType !== onnx.TensorProto.DataType.INT64) return null;
  if (tensor.int64Data && tensor.int64Data.length > 0) return tensor.int64Data.map(toInt);
  const raw = tensor.rawData;
  if (!raw) return [];
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return Array.from({ length: raw.byteLength / 8 }, (_, k) => Number(view.getBigInt64(k * 8, true)));
}

function attrInts(node: NodeProto, name: string): number[] | null {
  const attr = (node.attribute ?? []).find((a) => a.name === name);
  return attr ? (attr.ints ?? []).map(toInt) : null;
}

function attrInt(node: NodeProto, name: string): number | null {
  const attr = (node.attribute ?? []).find((a) => a.name === name);
  return attr ? toInt(attr.i) : null;
}

/** The input of a node that carries the image data (the first one computed from the image). */
function dataInput(node: NodeProto, fromImage: Set<string>): string | undefined {
  return (node.input ?? []).find((name) => fromImage.has(name));
}

/**
 * The classifier head: the last Gemm/MatMul on the image's path, when only bias, softmax and
 * reshaping ops follow it up to a graph output. Returns it with its data input (the pre-logits).
 */
export function classifierHead(index: GraphIndex, fromImage: Set<string>): { node: NodeProto; input: string } | null {
  const head = index.nodes.filter((n) => (n.opType === 'Gemm' || n.opType === 'MatMul') && dataInput(n, fromImage)).at(-1);
  if (!head) return null;
  const outputs = new Set(index.outputs);
  let reachesOutput = false;
  const stack = [...(head.output ?? [])];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    if (outputs.has(name)) reachesOutput = true;
    for (const next of index.consumers.get(name) ?? []) {
      if (!HEAD_TAIL_OPS.has(next.opType ?? '')) return null;
      stack.push(...(next.output ?? []));
    }
  }
  return reachesOutput ? { node: head, input: dataInput(head, fromImage)! } : null;
}

/**
 * The tensor to cut at when none is named: the input of the classifier head (the pre-logits, as
 * "the input of the last Dense" for Keras), else the graph's single output; null when neither exists.
 */
export function defaultCut(index: GraphIndex, fromImage: Set<string>): string | null {
  const head = classifierHead(index, fromImage);
  if (head) return head.input;
  const outputs = index.outputs.filter((o) => fromImage.has(o));
  return outputs.length === 1 ? outputs[0]! : null;
}

/** The spatial axes of a rank-4 tensor in a layout, as non-negative axis numbers. */
function spatialAxes(layout: Layout): number[] {
  return layout === 'NCHW' ? [2, 3] : [1, 2];
}

/**
 * Why a node's output is a likely feature vector: a global pooling (not one feeding a convolution,
 * as squeeze-and-excitation blocks do), a ReduceMean/ReduceMax over the spatial axes, a pooling
 * down to 1×1, or the classifier head's input; null otherwise.
 * @param shape the output's shape when known (to recognise a pooling to 1×1)
 */
export function featureReason(
  index: GraphIndex,
  node: NodeProto,
  output: string,
  ctx: { head: string | null; layoutOf: (tensor: string) => Layout; shape?: number[] | null },
): string | null {
  if (output === ctx.head) return 'pre-logits: input of the last Gemm/MatMul';
  const op = node.opType ?? '';
  const intoConv = (index.consumers.get(output) ?? []).some((c) => c.opType === 'Conv');
  if ((op === 'GlobalAveragePool' || op === 'GlobalMaxPool') && !intoConv) return 'global pooling';
  if (op === 'ReduceMean' || op === 'ReduceMax') {
    const axes = attrInts(node, 'axes') ?? (node.input?.[1] ? index.constantInts(node.input[1]) : null);
    const x = node.input?.[0];
    if (!axes || !x) return null;
    const normal = new Set(axes.map((a) => (a < 0 ? a + 4 : a)));
    const spatial = spatialAxes(ctx.layoutOf(x));
    if (normal.size === 2 && spatial.every((a) => normal.has(a))) return `${op} over H×W`;
    return null;
  }
  if ((op === 'AveragePool' || op === 'MaxPool') && ctx.shape?.length === 4) {
    const [a, b] = spatialAxes(ctx.layoutOf(output));
    if (ctx.shape[a!] === 1 && ctx.shape[b!] === 1) return 'pooling to 1×1';
  }
  return null;
}

/**
 * Whether a node works on the last axis of a rank-4 tensor as its channels: a MatMul by a weight
 * matrix (a Linear layer applied to an NHWC tensor, as in ConvNeXt blocks) or a
 * LayerNormalization over the last axis.
 */
function channelsLastOp(index: GraphIndex, node: NodeProto): boolean {
  if (node.opType === 'MatMul') return index.initializers.has(node.input?.[1] ?? '');
  if (node.opType === 'LayerNormalization') return [-1, 3].includes(attrInt(node, 'axis') ?? -1);
  return false;
}

/**
 * The layout of a rank-4 tensor: found from the nearest op that fixes it — channel-first ops
 * (Conv, pooling, BatchNormalization…), channel-last ones (MatMul by a weight, LayerNormalization
 * over the last axis) and Transposes — walking through layout-keeping ops in both directions; the
 * image input's layout when nothing nearer tells.
 */
export function tensorLayout(index: GraphIndex, tensor: string, image: { name: string; layout: Layout }): Layout {
  const queue = [tensor];
  const seen = new Set<string>();
  for (let k = 0; k < queue.length && k < 10_000; k++) {
    const name = queue[k]!;
    if (seen.has(name)) continue;
    seen.add(name);
    if (name === image.name) return image.layout;
    const producer = index.producers.get(name)?.node;
    if (producer) {
      const op = producer.opType ?? '';
      if (CHANNEL_FIRST_OPS.has(op)) return 'NCHW';
      if (channelsLastOp(index, producer)) return 'NHWC';
      if (op === 'Transpose') {
        const perm = attrInts(producer, 'perm')?.join(',');
        if (perm === '0,2,3,1') return 'NHWC';
        if (perm === '0,3,1,2') return 'NCHW';
      } else if (LAYOUT_KEEPING_OPS.has(op)) {
        queue.push(...(producer.input ?? []).filter((i) => i && !index.initializers.has(i)));
      }
    }
    for (const consumer of index.consumers.get(name) ?? []) {
      const op = consumer.opType ?? '';
      if (CHANNEL_FIRST_OPS.has(op) && consumer.input?.[0] === name) return 'NCHW';
      if (channelsLastOp(index, consumer) && consumer.input?.[0] === name) return 'NHWC';
      if (op === 'Transpose') {
        const perm = attrInts(consumer, 'perm')?.join(',');
        if (perm === '0,3,1,2') return 'NHWC';
        if (perm === '0,2,3,1') return 'NCHW';
      } else if (LAYOUT_KEEPING_OPS.has(op) && !(op === 'Concat' && attrInt(consumer, 'axis') === 0)) {
        queue.push(...(consumer.output ?? []).filter(Boolean));
      }
    }
  }
  return image.layout;
}
