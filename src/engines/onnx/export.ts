// Translates a tfjs/Keras LayersModel, cut at feature layers, into an ONNX model that runs in NCHW.
import type * as tf from '@tensorflow/tfjs';
import { CnnfeatError, ExitCode } from '../../errors.js';
import type { CutSpec, PoolMode } from '../engine.js';
import { GraphBuilder } from '../../formats/onnx-graph.js';
import { convKernelToOihw, depthwiseKernelToOihw, pair, windowPadding, type Weight } from './layers.js';
import { unknownCutError } from '../../util/names.js';

/** Version of the translation; bump whenever the exported graph changes (part of cache keys). */
export const EXPORTER_VERSION = 1;

/** Thrown for a layer or layer option the ONNX exporter cannot translate. */
export class UnsupportedLayerError extends CnnfeatError {
  /** What cannot be exported, without advice: `layer "x" (Class): … cannot be exported to ONNX`. */
  readonly problem: string;

  constructor(
    readonly layer: string,
    readonly className: string,
    what: string,
  ) {
    const problem = `layer "${layer}" (${className}): ${what} cannot be exported to ONNX`;
    super(`${problem}; run this model with --engine tfjs`, ExitCode.usage);
    this.problem = problem;
    this.name = 'UnsupportedLayerError';
  }
}

/** Result of {@link exportToOnnx}. */
export interface OnnxExport {
  /** Serialised ONNX ModelProto: input `input` [N, H, W, C] NHWC, output `features` [N, dim]. */
  bytes: Uint8Array;
  dim: number;
  /** True when at least one cut layer's spatial output was pooled. */
  pooled: boolean;
}

type Shape = (number | null)[];
type Layer = tf.layers.Layer;
type Config = Record<string, unknown>;

/** The parts of a tfjs symbolic tensor and graph node the exporter walks (tfjs does not export Node's type). */
interface SymTensor {
  id: number;
  shape: Shape;
  sourceLayer: Layer;
  nodeIndex: number;
}
interface LayerNode {
  inputTensors: SymTensor[];
  outputTensors: SymTensor[];
}

/** A value in the ONNX graph: its name and its Keras shape (rank-4 values are stored NCHW). */
interface Value {
  name: string;
  shape: Shape;
}

const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];
const IDENTITY_LAYERS = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);
const CONV_LAYERS = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D']);
/** Keras SELU constants (ONNX's defaults differ in the last digits). */
const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

/**
 * Exports `model` cut at `cut.layers` (concatenated in order; each spatial [N,H,W,C] output pooled
 * by `cut.pool`: `avg`, `max` or `avg+max` (both, per layer); a rank-2 output taken as is; any
 * other rank flattened in Keras (NHWC) order) to ONNX ModelProto bytes with one input `input`
 * float32 [N,H,W,3] NHWC (batch dim symbolic) and one output `features` float32 [N, dim].
 * Only the subgraph the cut needs is translated; inside, the graph runs NCHW, with inference-time
 * BatchNormalization folded into the convolution feeding it.
 * @throws UnsupportedLayerError for a layer or option it cannot translate; CnnfeatError for a bad cut
 */
export function exportToOnnx(model: tf.LayersModel, cut: CutSpec): OnnxExport {
  if (cut.layers.length === 0) throw new CnnfeatError('no feature layer given to export; name at least one layer');
  const pool: PoolMode = cut.pool ?? 'avg';
  const outputs = cut.layers.map((name) => cutTensor(model, name));
  const exporter = new Exporter(outputs);
  const { name, dim, pooled } = exporter.features(outputs, pool);
  exporter.graph.addOutput(name, ['N', dim]);
  const doc = `cnnfeat exporter v${EXPORTER_VERSION}: ${model.name} cut at ${cut.layers.join(', ')}, pool ${pool}`;
  return { bytes: exporter.graph.toBytes(model.name || 'model', doc), dim, pooled };
}

/** The output tensor of layer `name` within `model` (one call site of the layer, one output). */
function cutTensor(model: tf.LayersModel, name: string): SymTensor {
  let layer: Layer;
  try {
    layer = model.getLayer(name);
  } catch {
    throw unknownCutError('layer', name, model.layers.map((l) => l.name));
  }
  const inModel = modelNodes(model);
  const nodes = nodesOf(layer).filter((_, k) => inModel.has(nodeKey(layer, k)));
  if (nodes.length !== 1) {
    throw new UnsupportedLayerError(name, layer.getClassName(), `a cut at a layer called ${nodes.length} times in the model (shared)`);
  }
  if (nodes[0]!.outputTensors.length !== 1) {
    throw new UnsupportedLayerError(name, layer.getClassName(), 'a cut at a layer with several outputs');
  }
  return nodes[0]!.outputTensors[0]!;
}

/** Keys of the graph nodes (layer calls) of `model`: those its outputs depend on. */
function modelNodes(model: tf.LayersModel): Set<string> {
  const keys = new Set<string>();
  const stack = [...(model.outputs as unknown as SymTensor[])];
  while (stack.length > 0) {
    const t = stack.pop()!;
    const key = nodeKey(t.sourceLayer, t.nodeIndex);
    if (keys.has(key)) continue;
    keys.add(key);
    stack.push(...nodeOf(t).inputTensors);
  }
  return keys;
}

function nodeKey(layer: Layer, nodeIndex: number): string {
  return `${layer.name}#${nodeIndex}`;
}

function nodesOf(layer: Layer): LayerNode[] {
  return layer.inboundNodes as unknown as LayerNode[];
}

function nodeOf(t: SymTensor): LayerNode {
  return nodesOf(t.sourceLayer)[t.nodeIndex]!;
}

/** Walks the Keras graph from the cut tensors back to the input, emitting ONNX nodes. */
class Exporter {
  readonly graph = new GraphBuilder(['input', 'features']);
  /** ONNX value of each translated Keras tensor (by tensor id). */
  private readonly values = new Map<number, Value>();
  /** How many times each tensor is read within the exported subgraph (cut outputs count once each). */
  private readonly readers = new Map<number, number>();
  private input: Value | undefined;

  constructor(outputs: SymTensor[]) {
    this.countReaders(outputs);
  }

  /** Builds the `features` output from the cut tensors; returns its name and width. */
  features(outputs: SymTensor[], pool: PoolMode): { name: string; dim: number; pooled: boolean } {
    const parts: { name: string; dim: number }[] = [];
    let pooled = false;
    for (const t of outputs) {
      const v = this.value(t);
      const dim = featureWidth(t, v.shape.length === 4 ? [v.shape[3]!] : v.shape.slice(1));
      if (v.shape.length === 4) {
        pooled = true;
        parts.push(...this.pooled(v, t.sourceLayer.name, pool).map((name) => ({ name, dim })));
      } else if (v.shape.length === 2) {
        parts.push({ name: v.name, dim });
      } else {
        parts.push({ name: this.graph.addNode('Flatten', [v.name], `${t.sourceLayer.name}/flat`, { axis: 1 }), dim });
      }
    }
    const names = parts.map((p) => p.name);
    const output = { output: 'features' };
    const name = names.length === 1 ? this.graph.addNode('Identity', names, 'features', {}, output) : this.graph.addNode('Concat', names, 'features', { axis: 1 }, output);
    return { name, dim: parts.reduce((sum, p) => sum + p.dim, 0), pooled };
  }

  /** A spatial cut output pooled to [N, C] (avg, max, or both), one name per pooling. */
  private pooled(v: Value, layerName: string, pool: PoolMode): string[] {
    const modes = pool === 'avg+max' ? ['avg', 'max'] : [pool];
    return modes.map((mode) => {
      const base = `${layerName}/${mode}`;
      const pooledValue = this.graph.addNode(mode === 'avg' ? 'GlobalAveragePool' : 'GlobalMaxPool', [v.name], base);
      return this.graph.addNode('Flatten', [pooledValue], base, { axis: 1 });
    });
  }

  private countReaders(outputs: SymTensor[]): void {
    const seen = new Set<string>();
    const stack = [...outputs];
    for (const t of outputs) this.readers.set(t.id, (this.readers.get(t.id) ?? 0) + 1);
    while (stack.length > 0) {
      const t = stack.pop()!;
      const key = nodeKey(t.sourceLayer, t.nodeIndex);
      if (seen.has(key)) continue;
      seen.add(key);
      for (const input of nodeOf(t).inputTensors) {
        this.readers.set(input.id, (this.readers.get(input.id) ?? 0) + 1);
        stack.push(input);
      }
    }
  }

  /** The ONNX value of a Keras tensor, translating its producing layer on first use. */
  value(t: SymTensor): Value {
    let v = this.values.get(t.id);
    if (!v) {
      const node = nodeOf(t);
      const layer = t.sourceLayer;
      if (node.outputTensors.length !== 1) throw new UnsupportedLayerError(layer.name, layer.getClassName(), 'a layer with several outputs');
      const shape = layer.getClassName() === 'Reshape' ? reshapedShape(this.value(node.inputTensors[0]!).shape, t.shape) : t.shape;
      v = { name: this.translate(layer, node, t), shape };
      this.values.set(t.id, v);
    }
    return v;
  }

  private translate(layer: Layer, node: LayerNode, out: SymTensor): string {
    const cls = layer.getClassName();
    const config = layer.getConfig() as Config;
    const unsupported = (what: string) => new UnsupportedLayerError(layer.name, cls, what);
    if (config.dataFormat === 'channelsFirst') throw unsupported('data_format channels_first');
    if (config.padding !== undefined && typeof config.padding === 'string' && !['same', 'valid'].includes(config.padding)) throw unsupported(`padding "${config.padding}"`);
    const inputs = node.inputTensors;
    if (cls === 'InputLayer') return this.modelInput(layer, out);
    if (inputs.length === 0) throw unsupported('a layer without inputs');
    const base = layer.name;
    const single = () => {
      if (inputs.length !== 1) throw unsupported(`${inputs.length} inputs`);
      return this.value(inputs[0]!);
    };
    if (IDENTITY_LAYERS.has(cls)) return single().name;
    switch (cls) {
      case 'Conv2D':
      case 'DepthwiseConv2D':
      case 'SeparableConv2D':
        return this.activation(base, this.conv(layer, single(), null), String(config.activation), out.shape.length, unsupported);
      case 'BatchNormalization':
        return this.batchNorm(layer, inputs, out);
      case 'Activation':
        return this.activation(base, single().name, String(config.activation), out.shape.length, unsupported);
      case 'ReLU':
        return config.maxValue == null ? this.graph.addNode('Relu', [single().name], base) : this.clip(base, single().name, 0, Number(config.maxValue));
      case 'LeakyReLU':
        return this.graph.addNode('LeakyRelu', [single().name], base, { alpha: Number(config.alpha ?? 0.3) }, { floatAttrs: ['alpha'] });
      case 'ELU':
        return this.graph.addNode('Elu', [single().name], base, { alpha: Number(config.alpha ?? 1) }, { floatAttrs: ['alpha'] });
      case 'ThresholdedReLU':
        return this.graph.addNode('ThresholdedRelu', [single().name], base, { alpha: Number(config.theta ?? 1) }, { floatAttrs: ['alpha'] });
      case 'Softmax':
        return this.graph.addNode('Softmax', [single().name], base, { axis: onnxAxis(Number(config.axis ?? -1), out.shape.length) });
      case 'ZeroPadding2D':
        return this.zeroPadding(base, single(), config);
      case 'Cropping2D':
        return this.cropping(base, single(), config);
      case 'MaxPooling2D':
      case 'AveragePooling2D':
        return this.pooling(cls, base, single(), config);
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D': {
        const pooled = this.graph.addNode(cls === 'GlobalMaxPooling2D' ? 'GlobalMaxPool' : 'GlobalAveragePool', [single().name], base);
        return out.shape.length === 4 ? pooled : this.graph.addNode('Flatten', [pooled], base, { axis: 1 });
      }
      case 'Add':
      case 'Multiply':
      case 'Average':
      case 'Maximum':
      case 'Minimum':
        return this.merge(cls, base, inputs.map((t) => this.value(t)), unsupported);
      case 'Concatenate': {
        const values = inputs.map((t) => this.value(t));
        if (values.some((v) => v.shape.length !== out.shape.length)) throw unsupported('inputs of different ranks');
        return this.graph.addNode('Concat', values.map((v) => v.name), base, { axis: onnxAxis(Number(config.axis ?? -1), out.shape.length) });
      }
      case 'Flatten': {
        const x = single();
        if (x.shape.length === 2) return x.name;
        return this.graph.addNode('Flatten', [this.toKerasLayout(base, x)], base, { axis: 1 });
      }
      case 'Reshape':
        return this.reshape(base, single(), config, out);
      case 'Dense':
        return this.activation(base, this.dense(layer, single()), String(config.activation), out.shape.length, unsupported);
      default:
        throw unsupported('this layer type');
    }
  }

  /** The graph input `input` [N,H,W,C] (NHWC, as decoded), transposed once to NCHW. */
  private modelInput(layer: Layer, out: SymTensor): string {
    if (this.input) throw new UnsupportedLayerError(layer.name, 'InputLayer', 'a second model input (cnnfeat feeds one image tensor)');
    if (out.shape.length !== 4) throw new UnsupportedLayerError(layer.name, 'InputLayer', `an input of rank ${out.shape.length} (expected images [N, H, W, C])`);
    const [, h, w, c] = out.shape;
    if (c == null) throw new UnsupportedLayerError(layer.name, 'InputLayer', 'an input without a known channel count');
    const name = this.graph.addInput('input', ['N', h ?? 'H', w ?? 'W', c]);
    this.input = { name, shape: out.shape };
    return this.graph.addNode('Transpose', [name], 'input_nchw', { perm: NHWC_TO_NCHW });
  }

  /**
   * Emits the convolution(s) of a Conv2D / DepthwiseConv2D / SeparableConv2D layer (without its
   * activation), with `bn` — per output channel scale and shift — folded into the last one.
   */
  private conv(layer: Layer, x: Value, bn: { scale: Float64Array; shift: Float64Array } | null): string {
    const config = layer.getConfig() as Config;
    const cls = layer.getClassName();
    const weights = readWeights(layer);
    const useBias = config.useBias !== false;
    const strides = pair(config.strides, [1, 1]);
    const dilations = pair(config.dilationRate, [1, 1]);
    const kernelSize = pair(config.kernelSize);
    const padding = windowPadding(String(config.padding), x.shape.slice(1, 3), kernelSize, strides, dilations);
    const dilated = dilations[0]! > 1 || dilations[1]! > 1;
    if (dilated && (strides[0]! > 1 || strides[1]! > 1)) throw new UnsupportedLayerError(layer.name, cls, 'strides together with dilation_rate');
    // TensorFlow.js runs DepthwiseConv2D without its dilation: refused so the engines never disagree.
    if (dilated && cls === 'DepthwiseConv2D') throw new UnsupportedLayerError(layer.name, cls, 'dilation_rate > 1 (which TensorFlow.js ignores)');
    const spatial = { strides, dilations, kernel_shape: kernelSize, ...padding };
    const bias = useBias ? weights[weights.length - 1]! : null;
    if (cls === 'Conv2D') return this.convNode(layer.name, x.name, convKernelToOihw(weights[0]!), bias, spatial, 1, bn);
    const depthwise = depthwiseKernelToOihw(weights[0]!);
    const inChannels = weights[0]!.shape[2]!;
    if (cls === 'DepthwiseConv2D') return this.convNode(layer.name, x.name, depthwise, bias, spatial, inChannels, bn);
    const mid = this.convNode(`${layer.name}/depthwise`, x.name, depthwise, null, spatial, inChannels, null);
    const pointwise = convKernelToOihw(weights[1]!);
    return this.convNode(layer.name, mid, pointwise, bias, { strides: [1, 1], dilations: [1, 1], kernel_shape: [1, 1], pads: [0, 0, 0, 0] }, 1, bn);
  }

  private convNode(
    base: string,
    x: string,
    kernel: Weight,
    bias: Weight | null,
    attrs: Record<string, number[] | string>,
    group: number,
    bn: { scale: Float64Array; shift: Float64Array } | null,
  ): string {
    const outChannels = kernel.shape[0]!;
    let w = kernel.data;
    let b: Float32Array | null = bias ? bias.data : null;
    if (bn) {
      const perChannel = w.length / outChannels;
      w = w.map((value, k) => value * bn.scale[Math.floor(k / perChannel)]!);
      b = Float32Array.from(bn.shift, (shift, o) => (bias ? bias.data[o]! : 0) * bn.scale[o]! + shift);
    }
    const inputs = [x, this.graph.addFloats(`${base}/W`, w, kernel.shape)];
    if (b) inputs.push(this.graph.addFloats(`${base}/B`, b, [outChannels]));
    return this.graph.addNode('Conv', inputs, base, { ...attrs, group });
  }

  /**
   * Inference BatchNormalization: y = (x − mean)·gamma/√(var + ε) + beta, folded into the
   * convolution before it when that convolution has no activation and feeds only this layer,
   * else a per-channel Mul + Add.
   */
  private batchNorm(layer: Layer, inputs: SymTensor[], out: SymTensor): string {
    const cls = 'BatchNormalization';
    if (inputs.length !== 1) throw new UnsupportedLayerError(layer.name, cls, `${inputs.length} inputs`);
    const config = layer.getConfig() as Config;
    const rank = out.shape.length;
    const axes = Array.isArray(config.axis) ? (config.axis as number[]) : [Number(config.axis ?? -1)];
    if (axes.length !== 1 || (axes[0]! < 0 ? axes[0]! + rank : axes[0]!) !== rank - 1) {
      throw new UnsupportedLayerError(layer.name, cls, `axis ${JSON.stringify(config.axis)} (only the channel axis, -1)`);
    }
    const { scale, shift } = batchNormAffine(layer, Number(config.epsilon ?? 1e-3), config.scale !== false, config.center !== false);
    const x = inputs[0]!;
    const producer = x.sourceLayer;
    const producerConfig = producer.getConfig() as Config;
    if (CONV_LAYERS.has(producer.getClassName()) && this.readers.get(x.id) === 1 && producerConfig.activation === 'linear' && !this.values.has(x.id)) {
      const convInput = nodeOf(x).inputTensors;
      if (convInput.length === 1 && producerConfig.dataFormat !== 'channelsFirst') return this.conv(producer, this.value(convInput[0]!), { scale, shift });
    }
    const v = this.value(x);
    const dims = rank === 4 ? [scale.length, 1, 1] : [scale.length];
    const scaled = this.graph.addNode('Mul', [v.name, this.graph.addFloats(`${layer.name}/scale`, Float32Array.from(scale), dims)], `${layer.name}/scaled`);
    return this.graph.addNode('Add', [scaled, this.graph.addFloats(`${layer.name}/shift`, Float32Array.from(shift), dims)], layer.name);
  }

  /** A Keras activation function by name (`linear` emits nothing). */
  private activation(base: string, x: string, activation: string, rank: number, unsupported: (what: string) => Error): string {
    const g = this.graph;
    const name = activation.toLowerCase().replace(/_/g, '');
    const simple: Record<string, string> = { relu: 'Relu', sigmoid: 'Sigmoid', tanh: 'Tanh', softplus: 'Softplus', softsign: 'Softsign' };
    if (name === 'linear') return x;
    if (simple[name]) return g.addNode(simple[name], [x], base);
    switch (name) {
      case 'relu6':
        return this.clip(base, x, 0, 6);
      case 'elu':
        return g.addNode('Elu', [x], base, { alpha: 1 }, { floatAttrs: ['alpha'] });
      case 'selu':
        return g.addNode('Selu', [x], base, { alpha: SELU_ALPHA, gamma: SELU_SCALE }, { floatAttrs: ['alpha', 'gamma'] });
      case 'hardsigmoid':
        return g.addNode('HardSigmoid', [x], base, { alpha: 0.2, beta: 0.5 }, { floatAttrs: ['alpha', 'beta'] });
      case 'softmax':
        return g.addNode('Softmax', [x], base, { axis: onnxAxis(-1, rank) });
      case 'logsoftmax':
        return g.addNode('LogSoftmax', [x], base, { axis: onnxAxis(-1, rank) });
      case 'swish':
        return g.addNode('Mul', [x, g.addNode('Sigmoid', [x], `${base}/sigmoid`)], base);
      case 'mish':
        return g.addNode('Mul', [x, g.addNode('Tanh', [g.addNode('Softplus', [x], `${base}/softplus`)], `${base}/tanh`)], base);
      default:
        throw unsupported(`activation "${activation}"`);
    }
  }

  private clip(base: string, x: string, min: number, max: number): string {
    return this.graph.addNode('Clip', [x, this.graph.addFloats(`${base}/min`, [min], []), this.graph.addFloats(`${base}/max`, [max], [])], base);
  }

  private zeroPadding(base: string, x: Value, config: Config): string {
    const [[top, bottom], [left, right]] = paddingPairs(config.padding);
    const pads = this.graph.addInt64s(`${base}/pads`, [0, 0, top, left, 0, 0, bottom, right]);
    return this.graph.addNode('Pad', [x.name, pads], base);
  }

  private cropping(base: string, x: Value, config: Config): string {
    const [[top, bottom], [left, right]] = paddingPairs(config.cropping);
    const end = (crop: number) => (crop > 0 ? -crop : 2 ** 31 - 1);
    const g = this.graph;
    return g.addNode('Slice', [x.name, g.addInt64s(`${base}/starts`, [top, left]), g.addInt64s(`${base}/ends`, [end(bottom), end(right)]), g.addInt64s(`${base}/axes`, [2, 3])], base);
  }

  private pooling(cls: string, base: string, x: Value, config: Config): string {
    const kernel = pair(config.poolSize);
    const strides = pair(config.strides, kernel);
    const padding = windowPadding(String(config.padding), x.shape.slice(1, 3), kernel, strides);
    const attrs = { kernel_shape: kernel, strides, ...padding };
    // Keras averages over the window's real pixels only: padding is not counted.
    return cls === 'MaxPooling2D' ? this.graph.addNode('MaxPool', [x.name], base, attrs) : this.graph.addNode('AveragePool', [x.name], base, { ...attrs, count_include_pad: 0 });
  }

  private merge(cls: string, base: string, values: Value[], unsupported: (what: string) => Error): string {
    if (values.some((v) => v.shape.length !== values[0]!.shape.length)) throw unsupported('inputs of different ranks');
    const names = values.map((v) => v.name);
    const g = this.graph;
    if (cls === 'Average') return g.addNode('Mean', names, base);
    if (cls === 'Maximum' || cls === 'Minimum') return g.addNode(cls === 'Maximum' ? 'Max' : 'Min', names, base);
    const op = cls === 'Add' ? 'Add' : 'Mul';
    return names.slice(1).reduce((acc, name, k) => g.addNode(op, [acc, name], k === names.length - 2 ? base : `${base}/partial`), names[0]!);
  }

  /** Keras Reshape on the NHWC element order; a rank-4 result goes back to NCHW. */
  private reshape(base: string, x: Value, config: Config, out: SymTensor): string {
    const target = reshapedShape(x.shape, out.shape).slice(1);
    const shape = target.every((d) => d != null) ? [-1, ...(target as number[])] : [0, ...((config.targetShape as (number | null)[]).map((d) => d ?? -1))];
    const reshaped = this.graph.addNode('Reshape', [this.toKerasLayout(base, x), this.graph.addInt64s(`${base}/shape`, shape)], `${base}/nhwc`);
    return out.shape.length === 4 ? this.graph.addNode('Transpose', [reshaped], base, { perm: NHWC_TO_NCHW }) : reshaped;
  }

  /** A value in Keras element order: rank-4 values are transposed back from NCHW to NHWC. */
  private toKerasLayout(base: string, x: Value): string {
    return x.shape.length === 4 ? this.graph.addNode('Transpose', [x.name], `${base}/to_nhwc`, { perm: NCHW_TO_NHWC }) : x.name;
  }

  /** Dense: Gemm on [N, in]; on higher ranks a MatMul over the last Keras axis (channels of an image). */
  private dense(layer: Layer, x: Value): string {
    const weights = readWeights(layer);
    const kernel = weights[0]!;
    const w = this.graph.addFloats(`${layer.name}/W`, kernel.data, kernel.shape);
    const bias = (layer.getConfig() as Config).useBias !== false ? weights[1]! : null;
    if (x.shape.length === 2) {
      const inputs = [x.name, w];
      if (bias) inputs.push(this.graph.addFloats(`${layer.name}/B`, bias.data, bias.shape));
      return this.graph.addNode('Gemm', inputs, layer.name);
    }
    const product = this.graph.addNode('MatMul', [this.toKerasLayout(layer.name, x), w], `${layer.name}/matmul`);
    const sum = bias ? this.graph.addNode('Add', [product, this.graph.addFloats(`${layer.name}/B`, bias.data, bias.shape)], `${layer.name}/bias`) : product;
    return x.shape.length === 4 ? this.graph.addNode('Transpose', [sum], layer.name, { perm: NHWC_TO_NCHW }) : sum;
  }
}

/** Per-channel scale and shift equivalent to an inference BatchNormalization (in float64). */
function batchNormAffine(layer: Layer, epsilon: number, hasScale: boolean, hasCenter: boolean): { scale: Float64Array; shift: Float64Array } {
  const named = new Map<string, Float32Array>();
  const tensors = layer.getWeights();
  layer.weights.forEach((w, k) => {
    const match = /(gamma|beta|moving_mean|moving_variance)(_\d+)?$/.exec(w.originalName);
    if (match) named.set(match[1]!, Float32Array.from(tensors[k]!.dataSync()));
  });
  const mean = named.get('moving_mean');
  const variance = named.get('moving_variance');
  if (!mean || !variance) throw new UnsupportedLayerError(layer.name, 'BatchNormalization', 'weights without moving_mean/moving_variance');
  const gamma = hasScale ? named.get('gamma') : undefined;
  const beta = hasCenter ? named.get('beta') : undefined;
  const scale = Float64Array.from(variance, (v, c) => (gamma ? gamma[c]! : 1) / Math.sqrt(v + epsilon));
  const shift = Float64Array.from(mean, (m, c) => (beta ? beta[c]! : 0) - m * scale[c]!);
  return { scale, shift };
}

/** A layer's weights, copied out of the tfjs backend (the tensors stay owned by the layer). */
function readWeights(layer: Layer): Weight[] {
  return layer.getWeights().map((t) => ({ data: Float32Array.from(t.dataSync() as Float32Array), shape: t.shape.slice() }));
}

/** The ONNX axis of Keras axis `axis` of a rank-`rank` tensor (rank-4 values are NCHW). */
function onnxAxis(axis: number, rank: number): number {
  const k = axis < 0 ? axis + rank : axis;
  return rank === 4 ? NHWC_TO_NCHW.indexOf(k) : k;
}

/** ZeroPadding2D / Cropping2D config → [[top, bottom], [left, right]]. */
function paddingPairs(value: unknown): [[number, number], [number, number]] {
  if (typeof value === 'number') return [[value, value], [value, value]];
  const [a, b] = value as (number | number[])[];
  const both = (v: number | number[]): [number, number] => (typeof v === 'number' ? [v, v] : [v[0]!, v[1]!]);
  return [both(a!), both(b!)];
}

/** A Reshape's output shape with its -1 dim resolved when the input size is known (tfjs leaves it null). */
function reshapedShape(input: Shape, output: Shape): Shape {
  const dims = output.slice(1);
  const unknown = dims.filter((d) => d == null).length;
  if (unknown !== 1 || input.slice(1).some((d) => d == null)) return output;
  const total = (input.slice(1) as number[]).reduce((a, b) => a * b, 1);
  const known = (dims.filter((d) => d != null) as number[]).reduce((a, b) => a * b, 1);
  return [output[0]!, ...dims.map((d) => d ?? total / known)];
}

/** Product of known feature dims; a cut whose width depends on the input size is refused. */
function featureWidth(t: SymTensor, dims: Shape): number {
  if (dims.some((d) => d == null)) {
    throw new CnnfeatError(`layer "${t.sourceLayer.name}": its feature width depends on the input size [${t.shape.join(', ')}]; give the model a fixed input size`);
  }
  return (dims as number[]).reduce((a, b) => a * b, 1);
}
