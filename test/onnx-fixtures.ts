// Small ONNX models written with onnx-proto (through the project's GraphBuilder), in the shapes
// PyTorch and tf2onnx exports take: conv + pooling + Gemm head, NCHW or NHWC input, fixed or
// symbolic batch and size, weights inline or in an external-data file.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { GraphBuilder, type Dim, type ElemType } from '../dist/formats/onnx-graph.js';

const { onnx } = onnxProto;

/** How the tiny model is written. */
export interface TinyOnnxOptions {
  layout?: 'NCHW' | 'NHWC';
  /** Batch dimension of the input (default symbolic `batch`). */
  batch?: 'batch' | 1;
  /** Height = width, or symbolic (`height`, `width`); default 32. */
  size?: number | 'symbolic';
  /** Stores the weights in `<name>.data` beside the model. */
  external?: boolean;
  /** Name of the image input (default `input`, as torch exports usually call it). */
  inputName?: string;
  inputType?: ElemType;
  /** Reshapes to [1, -1] before the head (a graph that only runs with a batch of 1). */
  batchOneReshape?: boolean;
  /**
   * How the head pools: GlobalAveragePool (default), or as tf2onnx writes Keras' pooling —
   * Transpose back to NHWC (`c2_nhwc`) then ReduceMean over axes 1, 2 (`gap` is then [N, 16]);
   * `linear-nhwc` puts a Linear layer on the NHWC tensor first, as ConvNeXt blocks do (MatMul
   * by a 16×16 weight: `mm` [N, H, W, 16]).
   */
  headPool?: 'gap' | 'reducemean-nhwc' | 'linear-nhwc';
  /** Gates conv2 by a squeeze-and-excitation block (GlobalAveragePool `se_pool` → 1×1 Conv → Sigmoid → Mul). */
  squeeze?: boolean;
  /** Graph outputs besides `logits`, e.g. intermediate tensors for a reference run. */
  outputs?: string[];
  seed?: number;
}

/** Tensor names of the tiny model, in graph order. */
export const TINY = {
  conv1: 'c1', // [N, 8, H/2, W/2] after ReLU
  pool1: 'p1', // [N, 8, H/4, W/4]
  conv2: 'c2', // [N, 16, H/4, W/4] after ReLU
  gap: 'gap', // [N, 16, 1, 1]
  flat: 'flat', // [N, 16]: the head's input
  logits: 'logits', // [N, 5]
} as const;

function weights(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 2 * scale;
  });
}

/**
 * Writes the tiny model to `file`: image → Conv 3×3/2 (8) → ReLU → MaxPool 2 → Conv 3×3 (16) →
 * ReLU → GlobalAveragePool → Flatten → Gemm (5). An NHWC model transposes to NCHW first, as
 * tf2onnx does. Returns `file`.
 */
export async function writeTinyOnnx(file: string, opts: TinyOnnxOptions = {}): Promise<string> {
  const { layout = 'NCHW', batch = 'batch', size = 32, inputName = 'input', inputType = 'float32', seed = 7 } = opts;
  const g = new GraphBuilder([inputName, 'c2_nhwc', 'mm', 'se_pool', ...Object.values(TINY)]);
  const [h, w]: Dim[] = size === 'symbolic' ? ['height', 'width'] : [size, size];
  g.addInput(inputName, layout === 'NCHW' ? [batch, 3, h, w] : [batch, h, w, 3], inputType);
  let x = inputName;
  if (inputType === 'uint8') x = g.addNode('Div', [g.addNode('Cast', [x], 'to_float', { to: onnx.TensorProto.DataType.FLOAT }), g.addFloats('scale', [255], [])], 'unit');
  if (layout === 'NHWC') x = g.addNode('Transpose', [x], 'to_nchw', { perm: [0, 3, 1, 2] });
  // A float16 model runs its first convolution in float16 (weights cast in the graph), then float32.
  const half = (name: string) => (inputType === 'float16' ? g.addNode('Cast', [name], `${name}_f16`, { to: onnx.TensorProto.DataType.FLOAT16 }) : name);
  const conv1 = g.addNode('Conv', [x, half(g.addFloats('w1', weights(8 * 3 * 9, seed, 0.5), [8, 3, 3, 3])), half(g.addFloats('b1', weights(8, seed + 1, 0.1), [8]))], 'conv1', {
    kernel_shape: [3, 3],
    pads: [1, 1, 1, 1],
    strides: [2, 2],
  });
  const conv1Float = inputType === 'float16' ? g.addNode('Cast', [conv1], 'conv1_f32', { to: onnx.TensorProto.DataType.FLOAT }) : conv1;
  g.addNode('Relu', [conv1Float], TINY.conv1, {}, { output: TINY.conv1 });
  g.addNode('MaxPool', [TINY.conv1], TINY.pool1, { kernel_shape: [2, 2], strides: [2, 2] }, { output: TINY.pool1 });
  const conv2 = g.addNode('Conv', [TINY.pool1, g.addFloats('w2', weights(16 * 8 * 9, seed + 2, 0.3), [16, 8, 3, 3]), g.addFloats('b2', weights(16, seed + 3, 0.1), [16])], 'conv2', {
    kernel_shape: [3, 3],
    pads: [1, 1, 1, 1],
  });
  let gated = conv2;
  if (opts.squeeze) {
    const pooled = g.addNode('GlobalAveragePool', [conv2], 'se_pool', {}, { output: 'se_pool' });
    const excite = g.addNode('Conv', [pooled, g.addFloats('wse', weights(16 * 16, seed + 7, 0.5), [16, 16, 1, 1])], 'se_conv', { kernel_shape: [1, 1] });
    gated = g.addNode('Mul', [conv2, g.addNode('Sigmoid', [excite], 'se_gate')], 'se_mul');
  }
  g.addNode('Relu', [gated], TINY.conv2, {}, { output: TINY.conv2 });
  if (opts.headPool === 'reducemean-nhwc' || opts.headPool === 'linear-nhwc') {
    let nhwc = g.addNode('Transpose', [TINY.conv2], 'c2_nhwc', { perm: [0, 2, 3, 1] }, { output: 'c2_nhwc' });
    if (opts.headPool === 'linear-nhwc') nhwc = g.addNode('MatMul', [nhwc, g.addFloats('wl', weights(16 * 16, seed + 6, 0.5), [16, 16])], 'mm', {}, { output: 'mm' });
    g.addNode('ReduceMean', [nhwc], TINY.gap, { axes: [1, 2], keepdims: 0 }, { output: TINY.gap });
  } else {
    g.addNode('GlobalAveragePool', [TINY.conv2], TINY.gap, {}, { output: TINY.gap });
  }
  if (opts.batchOneReshape) g.addNode('Reshape', [TINY.gap, g.addInt64s('shape', [1, -1])], TINY.flat, {}, { output: TINY.flat });
  else g.addNode('Flatten', [TINY.gap], TINY.flat, { axis: 1 }, { output: TINY.flat });
  g.addNode('Gemm', [TINY.flat, g.addFloats('wh', weights(5 * 16, seed + 4, 0.5), [5, 16]), g.addFloats('bh', weights(5, seed + 5, 0.1), [5])], 'head', { transB: 1 }, { output: TINY.logits });
  g.addOutput(TINY.logits, [batch, 5]);
  let bytes = g.toBytes('tiny', 'cnnfeat test model');
  if (opts.outputs?.length) bytes = withOutputs(bytes, opts.outputs);
  if (opts.external) bytes = await moveToExternalData(bytes, file);
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, bytes);
  return file;
}

/** The model with more graph outputs (float tensors of undeclared shape). */
function withOutputs(bytes: Uint8Array, names: string[]): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  for (const name of names) model.graph!.output!.push(onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } }));
  return onnx.ModelProto.encode(model).finish();
}

/** Moves every initializer of more than 64 bytes into `<model>.data` beside the model, as onnx.save_model(save_as_external_data=True) does. */
async function moveToExternalData(bytes: Uint8Array, file: string): Promise<Uint8Array> {
  const model = onnx.ModelProto.decode(bytes);
  const dataName = `${path.basename(file)}.data`;
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const t of model.graph!.initializer!) {
    const raw = t.rawData ?? new Uint8Array(0);
    if (raw.length <= 64) continue;
    chunks.push(Buffer.from(raw));
    t.externalData = [
      { key: 'location', value: dataName },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(raw.length) },
    ];
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    offset += raw.length;
    t.rawData = new Uint8Array(0);
  }
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(path.join(path.dirname(file), dataName), Buffer.concat(chunks));
  return onnx.ModelProto.encode(model).finish();
}
