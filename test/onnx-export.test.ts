// The Keras/tfjs → ONNX exporter: every supported layer and option, run in onnxruntime-node and
// compared with TensorFlow.js (wasm backend) on the same cut; then the real ResNet50 and MobileNet
// on the onnx engine against the tfjs-wasm engine.
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, test, type TestContext } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { CnnfeatError } from '../dist/errors.js';
import { initBackend } from '../dist/engines/backend.js';
import { POOLS, type CutSpec, type EngineName, type PoolMode } from '../dist/engines/engine.js';
import { exportToOnnx, EXPORTER_VERSION, UnsupportedLayerError, type OnnxExport } from '../dist/engines/onnx/export.js';
import { loadLayersModel } from '../dist/engines/tfjs.js';
import type { PreprocessMode } from '../dist/image/preprocess.js';
import { decodeFiles, decodeOptionsOf, toInput } from '../dist/pipeline/batches/batch.js';
import { loadFeatureModel, type FeatureModel } from '../dist/pipeline/setup/feature-model.js';
import { applyLayer as on, relativeError, runCli, sharedData, tempDir, writeImage } from './helpers.js';

const TOLERANCE = 1e-4;
/** The real MobileNet v1 of ../shared (not part of the repository; the test says so when it skips). */
const MOBILENET = sharedData('models/mobilenet_v1_0.75_224/model.json');

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
});

/** A deterministic pseudo-random generator in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Ranges of the random values given to BatchNormalization statistics and biases, by weight name. */
const WEIGHT_RANGES: Record<string, [number, number]> = {
  gamma: [0.5, 1.5],
  beta: [-0.5, 0.5],
  moving_mean: [-0.5, 0.5],
  moving_variance: [0.3, 2],
  bias: [-0.3, 0.3],
};

/** A weight's shape, which has no open dimension. */
function concreteShape(shape: (number | null)[], what: string): number[] {
  return shape.map((d) => {
    assert.ok(d !== null, `${what}: a weight shape has no open dimension`);
    return d;
  });
}

/**
 * Gives every weight of the model random values: kernels scaled by fan-in, non-zero biases, and
 * BatchNormalization statistics far from the identity (gamma, beta, moving mean and variance).
 */
function randomizeWeights(model: tf.LayersModel, seed = 1): void {
  const rand = rng(seed);
  const uniform = (n: number, [lo, hi]: [number, number]) => Float32Array.from({ length: n }, () => lo + (hi - lo) * rand());
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const values = layer.weights.map((w) => {
      const shape = concreteShape(w.shape, w.originalName);
      const n = shape.reduce((a, b) => a * b, 1);
      const range = WEIGHT_RANGES[w.originalName.split('/').pop() ?? ''];
      if (range) return tf.tensor(uniform(n, range), shape);
      const fanIn = shape.length > 1 ? n / shape[shape.length - 1]! : 1;
      const limit = Math.sqrt(3 / fanIn);
      return tf.tensor(uniform(n, [-limit, limit]), shape);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

/** What cnnfeat makes of the cut in tfjs: spatial outputs pooled, others flattened, concatenated. */
function reference(model: tf.LayersModel, { layers, pool = 'avg' }: CutSpec, x: tf.Tensor): Float32Array {
  return tf.tidy(() => {
    const outputs = layers.flatMap((name) => model.getLayer(name).output);
    const cut = tf.model({ inputs: model.inputs, outputs });
    const predicted = cut.predict(x);
    const ys = Array.isArray(predicted) ? predicted : [predicted];
    const modes: PoolMode[] = pool === 'avg+max' ? ['avg', 'max'] : [pool];
    const parts = ys.flatMap((y) => {
      if (y.rank !== 4) return [y.reshape([y.shape[0]!, -1])];
      return modes.map((m) => (m === 'avg' ? y.mean([1, 2]) : y.max([1, 2])));
    });
    const features = parts.length === 1 ? parts[0]! : tf.concat(parts, 1);
    const data = features.dataSync();
    assert.ok(data instanceof Float32Array);
    return data;
  });
}

/** The float32 values of an onnxruntime output. */
function floatsOf(tensor: ort.Tensor): Float32Array {
  assert.ok(tensor.data instanceof Float32Array, `float32 output expected, got ${tensor.type}`);
  return tensor.data;
}

/** Runs exported ONNX bytes on an NHWC batch; returns the `features` tensor. */
async function runOnnx(bytes: Uint8Array, data: Float32Array, dims: number[], options: ort.InferenceSession.SessionOptions = {}): Promise<ort.Tensor> {
  const session = await ort.InferenceSession.create(bytes, options);
  try {
    const { features } = await session.run({ input: new ort.Tensor('float32', data, dims) });
    assert.ok(features, 'the graph has an output named "features"');
    return features;
  } finally {
    await session.release();
  }
}

/** A random NHWC batch for `model` (n images). */
function randomBatch(model: tf.LayersModel, n: number, seed = 7): { data: Float32Array; dims: number[] } {
  const [, h, w, c] = model.inputs[0]!.shape;
  assert.ok(h && w && c, 'a fixed input size');
  const rand = rng(seed);
  const data = Float32Array.from({ length: n * h * w * c }, () => rand() * 4 - 2);
  return { data, dims: [n, h, w, c] };
}

/**
 * Exports the cut, runs it in onnxruntime on a batch of 3 and checks it against tfjs
 * (relative error ≤ 1e-4); returns the export and the ONNX output.
 */
async function assertMatches(model: tf.LayersModel, cut: CutSpec, { n = 3, seed = 7 } = {}): Promise<{ exported: OnnxExport; features: ort.Tensor }> {
  const { data, dims } = randomBatch(model, n, seed);
  const exported = exportToOnnx(model, cut);
  const features = await runOnnx(exported.bytes, data, dims);
  assert.deepEqual(features.dims, [n, exported.dim]);
  const x = tf.tensor(data, dims);
  const expected = reference(model, cut, x);
  x.dispose();
  const err = relativeError(floatsOf(features), expected);
  assert.ok(err <= TOLERANCE, `${cut.layers.join('+')} (${cut.pool ?? 'avg'}): max |onnx - tfjs| / max |tfjs| = ${err}`);
  return { exported, features };
}

/** The op types of an exported model's graph. */
function opTypes(bytes: Uint8Array): string[] {
  return onnxProto.onnx.ModelProto.decode(bytes).graph?.node?.map((n) => n.opType ?? '') ?? [];
}

type Symbolic = tf.SymbolicTensor;
type ActivationName = NonNullable<Parameters<typeof tf.layers.activation>[0]['activation']>;

/** Builds a functional model from `build(input)` → outputs, with random weights. */
function makeModel(shape: number[], build: (input: Symbolic) => Symbolic | Symbolic[], seed = 1): tf.LayersModel {
  const input = tf.input({ shape, name: 'img' });
  const outputs = build(input);
  const model = tf.model({ inputs: input, outputs });
  randomizeWeights(model, seed);
  return model;
}

/** `x` flattened by a layer named `<name>_flat` (a cut there checks every element, in Keras order). */
function flat(x: Symbolic, name: string): Symbolic {
  return on(tf.layers.flatten({ name: `${name}_flat` }), x);
}

describe('ONNX export matches tfjs layer by layer', () => {
  for (const size of [8, 9]) {
    test(`Conv2D ${size}×${size}: valid/same, stride 2, even kernels, dilation, no bias, fused activations`, async () => {
      const specs: Record<string, Parameters<typeof tf.layers.conv2d>[0]> = {
        same_s2_k3: { filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' },
        same_s2_k2: { filters: 4, kernelSize: 2, strides: 2, padding: 'same' },
        same_s1_k4_nobias: { filters: 3, kernelSize: 4, padding: 'same', useBias: false },
        same_dil2: { filters: 4, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'relu6' },
        valid_dil2: { filters: 2, kernelSize: 2, dilationRate: [2, 1], padding: 'valid', activation: 'tanh' },
        valid_s2: { filters: 5, kernelSize: 3, strides: 2, padding: 'valid', activation: 'sigmoid' },
        same_rect: { filters: 3, kernelSize: [3, 2], strides: [2, 1], padding: 'same', activation: 'swish' },
      };
      const model = makeModel([size, size, 3], (x) => Object.entries(specs).map(([name, spec]) => flat(on(tf.layers.conv2d({ ...spec, name }), x), name)));
      await assertMatches(model, { layers: Object.keys(specs).map((n) => `${n}_flat`) });
    });

    test(`DepthwiseConv2D (multiplier 1 and 2) and SeparableConv2D ${size}×${size}`, async () => {
      const model = makeModel([size, size, 3], (x) => [
        flat(on(tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', name: 'dw_m2' }), x), 'dw_m2'),
        flat(on(tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 1, padding: 'valid', useBias: false, activation: 'relu', name: 'dw_m1' }), x), 'dw_m1'),
        flat(on(tf.layers.separableConv2d({ filters: 3, kernelSize: 2, dilationRate: 2, padding: 'same', name: 'sep_dil' }), x), 'sep_dil'),
        flat(on(tf.layers.separableConv2d({ filters: 5, kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', activation: 'relu', name: 'sep' }), x), 'sep'),
        flat(on(tf.layers.separableConv2d({ filters: 4, kernelSize: 2, padding: 'valid', useBias: false, name: 'sep_valid' }), x), 'sep_valid'),
      ]);
      await assertMatches(model, { layers: ['dw_m2_flat', 'dw_m1_flat', 'sep_dil_flat', 'sep_flat', 'sep_valid_flat'] });
    });

    test(`pooling ${size}×${size}: ZeroPadding2D, Cropping2D, Max/AveragePooling2D valid and same, global pools`, async () => {
      const model = makeModel([size, size, 3], (x) => {
        const conv = on(tf.layers.conv2d({ filters: 4, kernelSize: 1, name: 'conv' }), x);
        return [
          flat(on(tf.layers.zeroPadding2d({ padding: [[1, 2], [0, 3]], name: 'pad' }), conv), 'pad'),
          flat(on(tf.layers.cropping2D({ cropping: [[1, 0], [2, 1]], name: 'crop' }), conv), 'crop'),
          flat(on(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'max_same' }), conv), 'max_same'),
          flat(on(tf.layers.maxPooling2d({ poolSize: 2, padding: 'valid', name: 'max_valid' }), conv), 'max_valid'),
          flat(on(tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'avg_same' }), conv), 'avg_same'),
          flat(on(tf.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: 'same', name: 'avg_same_s1' }), conv), 'avg_same_s1'),
          flat(on(tf.layers.averagePooling2d({ poolSize: [2, 3], padding: 'valid', name: 'avg_valid' }), conv), 'avg_valid'),
          on(tf.layers.globalAveragePooling2d({ name: 'gap' }), conv),
          on(tf.layers.globalMaxPooling2d({ name: 'gmp' }), conv),
        ];
      });
      const layers = ['pad', 'crop', 'max_same', 'max_valid', 'avg_same', 'avg_same_s1', 'avg_valid'].map((n) => `${n}_flat`);
      await assertMatches(model, { layers: [...layers, 'gap', 'gmp'] });
    });
  }

  test('BatchNormalization: folded into a conv feeding only it, affine elsewhere; epsilon, center/scale false', async () => {
    const model = makeModel([7, 7, 3], (x) => {
      const conv = on(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'conv' }), x);
      const folded = on(tf.layers.batchNormalization({ epsilon: 0.01, name: 'bn_folded' }), conv);
      const relu = on(tf.layers.activation({ activation: 'relu', name: 'relu' }), folded);
      // The conv's output is also read by the Add: this BN cannot be folded into it.
      const shared = on(tf.layers.conv2d({ filters: 4, kernelSize: 1, useBias: false, name: 'conv_shared' }), relu);
      const bnShared = on(tf.layers.batchNormalization({ center: false, name: 'bn_shared' }), shared);
      const sum = on(tf.layers.add({ name: 'sum' }), [bnShared, shared]);
      // After an activation (conv with a fused relu): affine.
      const act = on(tf.layers.conv2d({ filters: 4, kernelSize: 1, activation: 'relu', name: 'conv_act' }), sum);
      const bnAfterAct = on(tf.layers.batchNormalization({ scale: false, name: 'bn_after_act' }), act);
      const dw = on(tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, useBias: false, name: 'dw' }), bnAfterAct);
      const bnDw = on(tf.layers.batchNormalization({ center: false, scale: false, name: 'bn_dw' }), dw);
      const sep = on(tf.layers.separableConv2d({ filters: 3, kernelSize: 2, name: 'sep' }), bnDw);
      const bnSep = on(tf.layers.batchNormalization({ name: 'bn_sep' }), sep);
      const dense = on(tf.layers.dense({ units: 5, name: 'dense' }), flat(bnSep, 'bn_sep'));
      return on(tf.layers.batchNormalization({ name: 'bn_dense' }), dense);
    });
    const { exported } = await assertMatches(model, { layers: ['bn_sep_flat', 'bn_dense'] });
    const ops = opTypes(exported.bytes);
    assert.equal(ops.filter((op) => op === 'Conv').length, 6, 'conv, conv_shared, conv_act, dw, sep (2)');
    assert.equal(ops.filter((op) => op === 'Mul').length, 3, 'bn_shared, bn_after_act and bn_dense stay affine; the others are folded');
    assert.ok(!ops.includes('BatchNormalization'));
  });

  test('a cut at a conv whose BatchNormalization follows keeps the conv unfolded', async () => {
    const model = makeModel([6, 6, 3], (x) => {
      const conv = on(tf.layers.conv2d({ filters: 3, kernelSize: 3, name: 'conv' }), x);
      return on(tf.layers.batchNormalization({ name: 'bn' }), conv);
    });
    const { exported } = await assertMatches(model, { layers: ['conv', 'bn'], pool: 'avg+max' });
    assert.equal(exported.dim, 12);
  });

  test('activations: Activation layers, ReLU (max_value), LeakyReLU, ELU, ThresholdedReLU, Softmax', async () => {
    const activations: ActivationName[] = ['relu', 'relu6', 'sigmoid', 'tanh', 'softmax', 'swish', 'elu', 'selu', 'softplus', 'softsign', 'hardSigmoid', 'linear', 'mish'];
    const model = makeModel([5, 5, 3], (x) => {
      const conv = on(tf.layers.conv2d({ filters: 4, kernelSize: 1, name: 'conv' }), x);
      const scaled = on(tf.layers.dense({ units: 4, name: 'pre' }), flat(conv, 'conv'));
      return [
        ...activations.map((a) => flat(on(tf.layers.activation({ activation: a, name: `act_${a}` }), conv), `act_${a}`)),
        flat(on(tf.layers.reLU({ name: 'relu_plain' }), conv), 'relu_plain'),
        flat(on(tf.layers.reLU({ maxValue: 0.5, name: 'relu_max' }), conv), 'relu_max'),
        flat(on(tf.layers.leakyReLU({ alpha: 0.2, name: 'leaky' }), conv), 'leaky'),
        flat(on(tf.layers.elu({ name: 'elu' }), conv), 'elu'),
        flat(on(tf.layers.thresholdedReLU({ theta: 0.3, name: 'thresholded' }), conv), 'thresholded'),
        flat(on(tf.layers.softmax({ axis: -1, name: 'softmax_c' }), conv), 'softmax_c'),
        on(tf.layers.activation({ activation: 'softmax', name: 'softmax_2d' }), scaled),
      ];
    });
    const names = [...activations.map((a) => `act_${a}`), 'relu_plain', 'relu_max', 'leaky', 'elu', 'thresholded', 'softmax_c'];
    await assertMatches(model, { layers: [...names.map((n) => `${n}_flat`), 'softmax_2d'] });
  });

  test('merges: residual Add, Multiply (incl. squeeze-excite broadcast), Average, Maximum, Minimum, Concatenate', async () => {
    const model = makeModel([6, 7, 3], (x) => {
      const a = on(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'a' }), x);
      const b = on(tf.layers.conv2d({ filters: 4, kernelSize: 1, name: 'b' }), a);
      const residual = on(tf.layers.add({ name: 'residual' }), [a, b]);
      const add3 = on(tf.layers.add({ name: 'add3' }), [a, b, residual]);
      const squeeze = on(tf.layers.globalAveragePooling2d({ name: 'squeeze' }), residual);
      const excite = on(tf.layers.dense({ units: 4, activation: 'sigmoid', name: 'excite' }), squeeze);
      const gate = on(tf.layers.reshape({ targetShape: [1, 1, 4], name: 'gate' }), excite);
      return [
        flat(add3, 'add3'),
        flat(on(tf.layers.multiply({ name: 'se' }), [residual, gate]), 'se'),
        flat(on(tf.layers.multiply({ name: 'mul' }), [a, b]), 'mul'),
        flat(on(tf.layers.average({ name: 'avg' }), [a, b, residual]), 'avg'),
        flat(on(tf.layers.maximum({ name: 'maxi' }), [a, b]), 'maxi'),
        flat(on(tf.layers.minimum({ name: 'mini' }), [a, b]), 'mini'),
        flat(on(tf.layers.concatenate({ name: 'cat' }), [a, b, x]), 'cat'),
        flat(on(tf.layers.concatenate({ axis: 1, name: 'cat_h' }), [a, b]), 'cat_h'),
        flat(on(tf.layers.concatenate({ axis: 2, name: 'cat_w' }), [a, b]), 'cat_w'),
        on(tf.layers.concatenate({ name: 'cat_2d' }), [squeeze, excite]),
      ];
    });
    const names = ['add3', 'se', 'mul', 'avg', 'maxi', 'mini', 'cat', 'cat_h', 'cat_w'];
    await assertMatches(model, { layers: [...names.map((n) => `${n}_flat`), 'cat_2d'] });
  });

  test('Flatten, Reshape and Dense follow Keras (NHWC) element order; inference-time noise layers are identities', async () => {
    const model = makeModel([5, 4, 3], (x) => {
      const conv = on(tf.layers.conv2d({ filters: 6, kernelSize: 2, padding: 'same', name: 'conv' }), x);
      const dropped = on(tf.layers.dropout({ rate: 0.5, name: 'drop' }), conv);
      const noisy = on(tf.layers.gaussianNoise({ stddev: 1, name: 'noise' }), dropped);
      const gdrop = on(tf.layers.gaussianDropout({ rate: 0.3, name: 'gdrop' }), noisy);
      const flatConv = on(tf.layers.flatten({ name: 'flatten' }), gdrop);
      const dense = on(tf.layers.dense({ units: 7, activation: 'relu', name: 'dense' }), flatConv);
      const alpha = on(tf.layers.alphaDropout({ rate: 0.2, name: 'alpha' }), dense);
      const head = on(tf.layers.dense({ units: 3, activation: 'softmax', useBias: false, name: 'head' }), alpha);
      const seq = on(tf.layers.reshape({ targetShape: [20, 6], name: 'seq' }), conv);
      const seqDense = on(tf.layers.dense({ units: 2, name: 'seq_dense' }), seq);
      const image = on(tf.layers.reshape({ targetShape: [10, 2, 6], name: 'image' }), conv);
      const imageConv = on(tf.layers.conv2d({ filters: 2, kernelSize: [3, 1], name: 'image_conv' }), image);
      const back = on(tf.layers.reshape({ targetShape: [-1], name: 'back' }), imageConv);
      const pixelDense = on(tf.layers.dense({ units: 2, activation: 'tanh', name: 'pixel_dense' }), conv);
      return [head, seqDense, back, flatConv, flat(pixelDense, 'pixel_dense')];
    });
    const { exported } = await assertMatches(model, { layers: ['flatten', 'head', 'seq_dense', 'back', 'pixel_dense_flat'] });
    assert.equal(exported.dim, 5 * 4 * 6 + 3 + 20 * 2 + 8 * 2 * 2 + 5 * 4 * 2);
    assert.equal(exported.pooled, false);
  });

  test('multi-layer cuts concatenate in order, each spatial output pooled avg, max or avg+max', async () => {
    const model = makeModel([9, 8, 3], (x) => {
      const c1 = on(tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c1' }), x);
      const c2 = on(tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', name: 'c2' }), c1);
      const gap = on(tf.layers.globalAveragePooling2d({ name: 'gap' }), c2);
      const seq = on(tf.layers.reshape({ targetShape: [5 * 4, 4], name: 'seq' }), c1);
      return [on(tf.layers.dense({ units: 3, name: 'fc' }), gap), seq];
    });
    for (const pool of POOLS) {
      const { exported } = await assertMatches(model, { layers: ['c2', 'img', 'fc', 'c1', 'seq'], pool });
      const per = pool === 'avg+max' ? 2 : 1;
      assert.equal(exported.dim, per * (6 + 3 + 4) + 3 + 80);
      assert.equal(exported.pooled, true);
    }
  });

  test('the batch dimension is symbolic; export leaks no tensors, and is deterministic', async () => {
    const model = makeModel([6, 6, 3], (x) => on(tf.layers.globalAveragePooling2d({ name: 'gap' }), on(tf.layers.conv2d({ filters: 3, kernelSize: 3, name: 'conv' }), x)));
    const before = tf.memory().numTensors;
    const first = exportToOnnx(model, { layers: ['gap'] });
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(exportToOnnx(model, { layers: ['gap'] }).bytes, first.bytes);
    assert.ok(Number.isInteger(EXPORTER_VERSION) && EXPORTER_VERSION >= 1);
    const graph = onnxProto.onnx.ModelProto.decode(first.bytes).graph;
    assert.ok(graph?.input && graph.output, 'the model has a graph with inputs and outputs');
    assert.deepEqual(graph.input.map((i) => i.name), ['input']);
    assert.deepEqual(graph.output.map((o) => o.name), ['features']);
    assert.equal(graph.input[0]?.type?.tensorType?.shape?.dim?.[0]?.dimParam, 'N');
    for (const n of [1, 5]) await assertMatches(model, { layers: ['gap'] }, { n, seed: n });
  });

  test('a layer shared between two branches is translated once per call', async () => {
    const model = makeModel([6, 6, 3], (x) => {
      const shared = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'shared' });
      const first = on(shared, x);
      const second = on(shared, on(tf.layers.activation({ activation: 'relu', name: 'relu' }), first));
      const bn = on(tf.layers.batchNormalization({ name: 'bn' }), second);
      return flat(on(tf.layers.add({ name: 'sum' }), [first, bn]), 'sum');
    });
    await assertMatches(model, { layers: ['sum_flat'] });
    assert.throws(() => exportToOnnx(model, { layers: ['shared'] }), (err) => err instanceof UnsupportedLayerError && /"shared" \(Conv2D\).*2 times/.test(err.message));
  });

  test('a Sequential model exports too', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, strides: 2, padding: 'same', name: 'conv' }),
        tf.layers.batchNormalization({ name: 'bn' }),
        tf.layers.reLU({ maxValue: 6, name: 'relu6' }),
        tf.layers.globalAveragePooling2d({ name: 'gap' }),
        tf.layers.dense({ units: 2, name: 'fc' }),
      ],
    });
    randomizeWeights(model, 3);
    await assertMatches(model, { layers: ['relu6', 'fc'] });
  });
});

describe('ONNX export refuses what it cannot translate', () => {
  const refuses = (model: tf.LayersModel, layers: string[], pattern: RegExp) =>
    assert.throws(
      () => exportToOnnx(model, { layers }),
      (err) => err instanceof UnsupportedLayerError && err instanceof CnnfeatError && pattern.test(err.message) && /--engine tfjs/.test(err.message),
    );

  test('an LSTM, channels_first, an unknown activation, a dilated depthwise conv or a custom layer names the layer, its class and --engine tfjs', () => {
    class Doubler extends tf.layers.Layer {
      static className = 'Doubler';
      override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
        return tf.mul(Array.isArray(inputs) ? inputs[0]! : inputs, 2);
      }
    }
    const input = tf.input({ shape: [4, 4, 3], name: 'img' });
    const seq = on(tf.layers.reshape({ targetShape: [16, 3], name: 'seq' }), input);
    const lstm = on(tf.layers.lstm({ units: 2, name: 'lstm' }), seq);
    const cf = on(tf.layers.conv2d({ filters: 2, kernelSize: 1, dataFormat: 'channelsFirst', name: 'cf' }), input);
    const gelu = on(tf.layers.dense({ units: 2, activation: 'gelu', name: 'gelu_dense' }), on(tf.layers.flatten({ name: 'f' }), input));
    const dilated = on(tf.layers.depthwiseConv2d({ kernelSize: 2, dilationRate: 2, name: 'dw_dilated' }), input);
    const custom = on(new Doubler({ name: 'doubler' }), input);
    const after = on(tf.layers.globalAveragePooling2d({ name: 'after_custom' }), custom);
    const model = tf.model({ inputs: input, outputs: [lstm, cf, gelu, after, dilated] });
    refuses(model, ['lstm'], /layer "lstm" \(LSTM\)/);
    refuses(model, ['cf'], /layer "cf" \(Conv2D\): data_format channels_first/);
    refuses(model, ['gelu_dense'], /layer "gelu_dense" \(Dense\): activation "gelu"/);
    refuses(model, ['dw_dilated'], /layer "dw_dilated" \(DepthwiseConv2D\): dilation_rate > 1 \(which TensorFlow.js ignores\)/);
    refuses(model, ['after_custom'], /layer "doubler" \(Doubler\)/);
    // Only the needed subgraph is translated: a cut before the unsupported layers exports.
    assert.equal(exportToOnnx(model, { layers: ['seq', 'f'] }).dim, 96);
  });

  test('an unknown layer name or an empty cut is a usage error', () => {
    const model = makeModel([4, 4, 3], (x) => on(tf.layers.conv2d({ filters: 2, kernelSize: 1, name: 'conv' }), x));
    assert.throws(() => exportToOnnx(model, { layers: ['nope'] }), (err) => err instanceof CnnfeatError && /no layer named "nope"/.test(err.message));
    assert.throws(() => exportToOnnx(model, { layers: [] }), CnnfeatError);
  });
});

/** Real-looking images: smooth colour gradients with shapes, and noise. */
async function writeTestImages(dir: string, count: number): Promise<string[]> {
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const file = path.join(dir, `img${i}.jpg`);
    if (i % 2 === 0) {
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="300" height="260"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="${i % 3}"><stop offset="0" stop-color="rgb(${30 * i},90,200)"/><stop offset="1" stop-color="rgb(240,${200 - 20 * i},40)"/></linearGradient></defs><rect width="300" height="260" fill="url(#g)"/><circle cx="${80 + 25 * i}" cy="130" r="${30 + 5 * i}" fill="rgb(20,160,${40 * i})"/></svg>`;
      await sharp(Buffer.from(svg)).jpeg({ quality: 90 }).toFile(file);
    } else {
      await writeImage(file, { width: 260, height: 200, rgb: [60 + 30 * i, 140, 200 - 25 * i], seed: i });
    }
    files.push(file);
  }
  return files;
}

/** A real network, where it is cut, and what that cut gives. */
interface RealCut {
  /** Card id or model.json path. */
  model: string;
  layer: string;
  preprocess: PreprocessMode;
  dim: number;
}

/** Loads `cut` on `engine` (disposed after the test) and checks it really runs there. */
async function loadOn(t: TestContext, { model, layer, preprocess }: RealCut, engine: EngineName): Promise<FeatureModel> {
  const fm = await loadFeatureModel({ model, layer, preprocess, engine });
  t.after(() => fm.extractor.dispose());
  assert.equal(fm.extractor.describe().engine, engine, `${model} runs on ${engine}`);
  return fm;
}

/**
 * Runs the real network cut at `layer` on real-looking images on the onnx engine, and the model
 * exported by this exporter in onnxruntime, and checks both against the tfjs-wasm engine.
 */
async function assertRealModelMatches(t: TestContext, cut: RealCut): Promise<void> {
  const tfjs = await loadOn(t, cut, 'tfjs-wasm');
  const onnx = await loadOn(t, cut, 'onnx');
  assert.equal(tfjs.settings.dim, cut.dim);
  assert.deepEqual(onnx.settings, tfjs.settings, 'both engines describe the same features');

  const files = await writeTestImages(await tempDir(t), 4);
  const { pixels } = await decodeFiles(files, decodeOptionsOf(tfjs.settings));
  const input = toInput(pixels, tfjs.settings) as Float32Array;
  const expected = await tfjs.extractor.run(input, pixels.length);
  // The onnx engine takes the uint8 pixels and normalises them in its graph: checked against tfjs on the floats.
  assert.equal(onnx.extractor.inputType, 'uint8');
  const engineErr = relativeError(await onnx.extractor.run(toInput(pixels, onnx.settings, undefined, 'uint8'), pixels.length), expected);
  assert.ok(engineErr <= TOLERANCE, `${cut.model} at ${cut.layer}: max |onnx engine - tfjs-wasm| / max |tfjs-wasm| = ${engineErr}`);

  // The engine may run an export cached by an earlier run: export the network afresh too.
  const layersModel = await loadLayersModel(tfjs.resolved.modelFile, 'wasm');
  t.after(() => layersModel.dispose());
  const exported = exportToOnnx(layersModel, { layers: [cut.layer] });
  assert.equal(exported.dim, cut.dim);
  const { height, width } = tfjs.settings.input;
  const features = await runOnnx(exported.bytes, input, [pixels.length, height, width, 3], { intraOpNumThreads: 2, graphOptimizationLevel: 'all' });
  assert.deepEqual(features.dims, [4, cut.dim]);
  const exportErr = relativeError(floatsOf(features), expected);
  assert.ok(exportErr <= TOLERANCE, `${cut.model} at ${cut.layer}: max |fresh export - tfjs-wasm| / max |tfjs-wasm| = ${exportErr}`);
}

describe('ONNX export of the real networks, against the tfjs-wasm engine', () => {
  test('ResNet50 at avg_pool: the onnx engine equals tfjs-wasm within 1e-4 on real-looking images', async (t) => {
    const pulled = await runCli(['models', 'pull', 'resnet50', '--json']);
    assert.equal(pulled.code, 0, pulled.stderr);
    await assertRealModelMatches(t, { model: 'resnet50', layer: 'avg_pool', preprocess: 'caffe', dim: 2048 });
  });

  test('MobileNet v1 0.75 at global_average_pooling2d_1: the onnx engine equals tfjs-wasm within 1e-4', { skip: MOBILENET.skip }, async (t) => {
    await assertRealModelMatches(t, { model: MOBILENET.path, layer: 'global_average_pooling2d_1', preprocess: 'tf', dim: 768 });
  });
});
