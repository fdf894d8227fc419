/**
 * Converts an ONNX graph's float32 computation to float16, keeping its float32 inputs and outputs:
 * a Cast to float16 after each float32 graph input that float16 nodes read, a Cast back to float32
 * before each graph output. Written from the ONNX operator specification:
 * - only tensors of element type FLOAT (1) change, to FLOAT16 (10); integer tensors (shapes,
 *   indices, axes, pads) are never touched;
 * - inputs whose type the specification fixes to float32 stay float32 (Resize `scales`, Upsample
 *   `scales`) and so does Resize `roi`, whose type is independent of the data's;
 * - reductions and functions whose float16 results overflow or lose too much (sums over many
 *   values, exp/pow/log, normalisations) run in float32 between Casts;
 * - `Cast(to=FLOAT)` inside the graph becomes `Cast(to=FLOAT16)`; float constants (Constant,
 *   ConstantOfShape) are converted;
 * - operators whose output type an attribute fixes (ConstantOfShape without a value, Random*,
 *   EyeLike, DequantizeLinear, …) stay float32;
 * - nodes of other operator domains run in float32 (their type rules are not known here), and
 *   graphs with subgraphs (If, Loop, Scan) are refused: their bodies read outer tensors by name.
 * The element type of every tensor must be given (`types`: e.g. found by running the graph once).
 */
import { CnnfeatError } from '../errors.js';
import { onnx } from './onnx-proto.js';
import { freshNames, intAttribute, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from './onnx-model.js';

const FLOAT = 1;
const FLOAT16 = 10;

/** Inputs (by position) that stay float32 whatever the data's type. */
const FLOAT32_INPUTS: Record<string, number[]> = { Resize: [1, 2], Upsample: [1] };

/** Operators run in float32 (between Casts) in a float16 graph: float16 would overflow or lose too much. */
const FLOAT32_OPS = new Set([
  'ReduceSum',
  'ReduceSumSquare',
  'ReduceL1',
  'ReduceL2',
  'ReduceLogSum',
  'ReduceLogSumExp',
  'ReduceProd',
  'CumSum',
  'Exp',
  'Log',
  'Pow',
  'LpNormalization',
  'LayerNormalization',
  'InstanceNormalization',
  'Range',
]);

/**
 * Operators whose float output type an attribute (or its default) fixes rather than their inputs
 * (ConstantOfShape without a value is float32 zeros): left in float32.
 */
const FIXED_OUTPUT_TYPE_OPS = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'EyeLike', 'Bernoulli', 'Multinomial', 'DequantizeLinear', 'DynamicQuantizeLinear']);

const SUBGRAPH_OPS = new Set(['If', 'Loop', 'Scan', 'SequenceMap']);

/** The float16 bits (IEEE 754 binary16) nearest to `value`, ties to even; beyond ±65504 it saturates. */
export function toFloat16Bits(value: number): number {
  const f32 = new Float32Array([value]);
  const bits = new Uint32Array(f32.buffer)[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // inf, NaN
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7bff; // saturate at the largest finite value
  if (e <= 0) {
    // subnormal (or zero): shift the mantissa with its implicit 1 into place, rounding to even
    if (e < -10) return sign;
    const full = mantissa | 0x800000;
    const shift = 14 - e;
    const half = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    return sign | (half + (rest > midpoint || (rest === midpoint && (half & 1)) ? 1 : 0));
  }
  const half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // a carry out of the mantissa correctly bumps the exponent (and saturates to inf only past 65504)
  const rounded = half + (rest > 0x1000 || (rest === 0x1000 && (half & 1)) ? 1 : 0);
  return sign | Math.min(rounded, 0x7bff);
}

/** The value of float16 bits. */
export function fromFloat16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** The float32 values of a FLOAT tensor (raw data or float_data). */
function floatValues(t: TensorProto): Float32Array {
  const raw = t.rawData;
  if (raw && raw.length > 0) {
    const copy = new Uint8Array(raw); // aligned
    return new Float32Array(copy.buffer, 0, copy.length / 4);
  }
  return Float32Array.from(t.floatData ?? []);
}

/** A FLOAT tensor as FLOAT16 (raw little-endian data), same name unless `name` is given. */
function float16Tensor(t: TensorProto, name = t.name ?? ''): TensorProto {
  if (t.dataLocation === 1 || (t.externalData ?? []).length > 0) {
    throw new Error(`${t.name}: external data must be read in before the float16 conversion`);
  }
  const values = floatValues(t);
  const halves = Uint16Array.from(values, toFloat16Bits);
  return onnx.TensorProto.create({ name, dims: t.dims ?? [], dataType: FLOAT16, rawData: new Uint8Array(halves.buffer) });
}

/** What a node is converted to: float16 compute, or float32 (between Casts). */
type Mode = 'fp16' | 'fp32';

function nodeMode(node: NodeProto): Mode {
  if (node.domain && node.domain !== 'ai.onnx') return 'fp32';
  const op = node.opType ?? '';
  if (op === 'ConstantOfShape' && !(node.attribute ?? []).some((a) => a.name === 'value')) return 'fp32';
  return FLOAT32_OPS.has(op) || FIXED_OUTPUT_TYPE_OPS.has(op) ? 'fp32' : 'fp16';
}

/** The type a node wants at input `i` (null: it accepts any type, e.g. Cast's input). */
function wantedInputType(node: NodeProto, mode: Mode, i: number): number | null {
  if (node.opType === 'Cast') return null;
  if (mode === 'fp32') return FLOAT;
  return FLOAT32_INPUTS[node.opType ?? '']?.includes(i) ? FLOAT : FLOAT16;
}

/**
 * Float16 copy of `model` whose float32 computation runs in float16 (see the module comment).
 * @param types element type code of every tensor: graph inputs, initialisers and node outputs
 * @throws CnnfeatError for a graph with subgraphs; Error for a tensor of unknown type
 */
export function convertToFloat16(model: ModelProto, types: Map<string, number>, modelName: string): ModelProto {
  const graph = model.graph!;
  const nodes = graph.node ?? [];
  const withSubgraph = nodes.find((n) => SUBGRAPH_OPS.has(n.opType ?? '') || (n.attribute ?? []).some((a) => a.g || (a.graphs ?? []).length > 0));
  if (withSubgraph) {
    throw new CnnfeatError(`${modelName}: float16 (--precision fp16) cannot convert a graph with control flow (${withSubgraph.opType}); use --precision fp32`);
  }
  const typeOf = (name: string) => {
    const t = types.get(name);
    if (t === undefined) throw new Error(`float16 conversion: the element type of tensor "${name}" is unknown`);
    return t;
  };
  const isFloat = (name: string) => name !== '' && typeOf(name) === FLOAT;

  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  /** What each float tensor is after conversion (float initialisers and inputs stay float32 until read as float16). */
  const converted = new Map<string, number>();
  const modes = nodes.map(nodeMode);
  nodes.forEach((node, k) => {
    for (const out of node.output ?? []) if (isFloat(out)) converted.set(out, modes[k] === 'fp16' ? FLOAT16 : FLOAT);
  });

  // Which type each float initialiser is read as: converted in place when every reader wants float16.
  const readAs = new Map<string, Set<number>>();
  nodes.forEach((node, k) => {
    (node.input ?? []).forEach((name, i) => {
      const want = wantedInputType(node, modes[k]!, i);
      if (!isFloat(name) || want === null || !initializers.has(name)) return;
      readAs.set(name, (readAs.get(name) ?? new Set()).add(want));
    });
  });
  // (An initialiser that is also a declared graph input or output keeps its declared float32.)
  const declared = new Set([...(graph.output ?? []), ...(graph.input ?? [])].map((o) => o.name ?? ''));
  const newInitializers: TensorProto[] = [];
  for (const t of graph.initializer ?? []) {
    const name = t.name ?? '';
    const wants = readAs.get(name);
    if (wants?.size === 1 && wants.has(FLOAT16) && !declared.has(name)) {
      newInitializers.push(float16Tensor(t));
      converted.set(name, FLOAT16);
    } else {
      newInitializers.push(t);
    }
  }

  const produced = new Set(nodes.flatMap((n) => n.output ?? []));
  const fresh = freshNames([...types.keys(), ...nodes.map((n) => n.name ?? '')]);
  /** Casts (or converted initialiser copies) of a tensor to the other float type, made once. */
  const castOf = new Map<string, string>();
  const front: NodeProto[] = [];
  const after = new Map<string, NodeProto[]>();
  const castTo = (name: string, to: number): string => {
    const current = converted.get(name) ?? FLOAT;
    if (current === to) return name;
    const key = `${name}\u0000${to}`;
    const known = castOf.get(key);
    if (known) return known;
    const cast = fresh(`${name}/${to === FLOAT16 ? 'fp16' : 'fp32'}`);
    castOf.set(key, cast);
    const init = initializers.get(name);
    if (init && to === FLOAT16 && current === FLOAT) {
      newInitializers.push(float16Tensor(init, cast));
    } else {
      const node = onnx.NodeProto.create({ opType: 'Cast', name: fresh(`${cast}/Cast`), input: [name], output: [cast], attribute: [intAttribute('to', to)] });
      if (produced.has(name)) after.set(name, [...(after.get(name) ?? []), node]);
      else front.push(node);
    }
    return cast;
  };

  const body = nodes.map((node, k) => {
    const mode = modes[k]!;
    const input = (node.input ?? []).map((name, i) => {
      const want = wantedInputType(node, mode, i);
      return want === null || !isFloat(name) ? name : castTo(name, want);
    });
    const attribute = (node.attribute ?? []).map((a) => convertedAttribute(node, mode, a));
    return onnx.NodeProto.create({ ...node, input, attribute });
  });

  // Graph outputs keep their names and float32: a float16 value is renamed and cast back.
  const renamed = new Map<string, string>();
  const tail: NodeProto[] = [];
  for (const out of graph.output ?? []) {
    const name = out.name ?? '';
    if (!isFloat(name) || converted.get(name) !== FLOAT16) continue;
    const inner = fresh(`${name}/fp16`);
    renamed.set(name, inner);
    tail.push(onnx.NodeProto.create({ opType: 'Cast', name: fresh(`${name}/Cast`), input: [inner], output: [name], attribute: [intAttribute('to', FLOAT)] }));
  }
  const rename = (name: string) => renamed.get(name) ?? name;
  const ordered: NodeProto[] = [...front];
  body.forEach((node) => {
    ordered.push(onnx.NodeProto.create({ ...node, input: (node.input ?? []).map(rename), output: (node.output ?? []).map(rename) }));
    for (const out of node.output ?? []) {
      for (const cast of after.get(out) ?? []) ordered.push(onnx.NodeProto.create({ ...cast, input: (cast.input ?? []).map(rename) }));
    }
  });
  ordered.push(...tail);
  const converted16: GraphProto = { ...graph, node: ordered, initializer: newInitializers, valueInfo: [] };
  return onnx.ModelProto.create({ ...model, graph: onnx.GraphProto.create(converted16), docString: `${model.docString ?? ''} (float16 computation, float32 inputs and outputs)`.trim() });
}

/** A node attribute in the float16 graph: Cast targets and float constants follow the node's mode. */
function convertedAttribute(node: NodeProto, mode: Mode, a: NonNullable<NodeProto['attribute']>[number]) {
  if (mode !== 'fp16') return a;
  if (node.opType === 'Cast' && a.name === 'to' && Number(a.i) === FLOAT) return intAttribute('to', FLOAT16);
  if ((node.opType === 'Constant' || node.opType === 'ConstantOfShape') && a.name === 'value' && a.t?.dataType === FLOAT) {
    return onnx.AttributeProto.create({ ...a, t: float16Tensor(a.t) });
  }
  if (node.opType === 'Constant' && (a.name === 'value_float' || a.name === 'value_floats')) {
    const values = a.name === 'value_float' ? [a.f ?? 0] : (a.floats ?? []);
    const t = onnx.TensorProto.create({ dims: a.name === 'value_float' ? [] : [values.length], dataType: FLOAT, floatData: values });
    return onnx.AttributeProto.create({ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: float16Tensor(t) });
  }
  return a;
}
