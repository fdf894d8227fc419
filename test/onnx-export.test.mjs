// The Keras/tfjs → ONNX exporter: every supported layer and option, run in onnxruntime-node and
// compared with TensorFlow.js (wasm backend) on the same cut, then the real ResNet50 / MobileNet.
import assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { CnnfeatError } from '../dist/errors.js';
import { initBackend } from '../dist/engines/backend.js';
import { exportToOnnx, EXPORTER_VERSION, UnsupportedLayerError } from '../dist/engines/onnx/export.js';
import { loadLayersModel } from '../dist/engines/tfjs.js';
import { decodeFiles, decodeOptionsOf, toInput } from '../dist/pipeline/batch.js';
import { loadFeatureModel } from '../dist/pipeline/feature-model.js';
import { runCli, tempDir, writeImage } from './helpers.mjs';

const TOLERANCE = 1e-4;
const MOBILENET = '/work/shared/models/mobilenet_v1_0.75_224';

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
});

/** A deterministic pseudo-random generator in [0, 1). */
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Gives every weight of the model random values: kernels scaled by fan-in, non-zero biases, and
 * BatchNormalization statistics far from the identity (gamma, beta, moving mean and variance).
 */
function randomizeWeights(model, seed = 1) {
  const rand = rng(seed);
  const uniform = (n, lo, hi) => Float32Array.from({ length: n }, () => lo + (hi - lo) * rand());
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const values = layer.weights.map((w) => {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const kind = w.originalName.split('/').pop();
      const ranges = { gamma: [0.5, 1.5], beta: [-0.5, 0.5], moving_mean: [-0.5, 0.5], moving_variance: [0.3, 2], bias: [-0.3, 0.3] };
      if (ranges[kind]) return tf.tensor(uniform(n, ...ranges[kind]), w.shape);
      const fanIn = w.shape.length > 1 ? n / w.shape[w.shape.length - 1] : 1;
      const limit = Math.sqrt(3 / fanIn);
      return tf.tensor(uniform(n, -limit, limit), w.shape);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

/** What cnnfeat makes of the cut in tfjs: spatial outputs pooled, others flattened, concatenated. */
function reference(model, { layers, pool = 'avg' }, x) {
  return tf.tidy(() => {
    const outputs = layers.map((name) => model.getLayer(name).output);
    const cut = tf.model({ inputs: model.inputs, outputs });
    let ys = cut.predict(x);
    if (!Array.isArray(ys)) ys = [ys];
    const parts = ys.flatMap((y) => {
      if (y.rank !== 4) return [y.reshape([y.shape[0], -1])];
      const modes = pool === 'avg+max' ? ['avg', 'max'] : [pool];
      return modes.map((m) => (m === 'avg' ? y.mean([1, 2]) : y.max([1, 2])));
    });
    return (parts.length === 1 ? parts[0] : tf.concat(parts, 1)).dataSync();
  });
}

/** Runs exported ONNX bytes on an NHWC batch; returns the `features` tensor. */
async function runOnnx(bytes, data, dims, options = {}) {
  const session = await ort.InferenceSession.create(bytes, options);
  try {
    const { features } = await session.run({ input: new ort.Tensor('float32', data, dims) });
    return features;
  } finally {
    await session.release();
  }
}

function relativeError(actual, expected) {
  assert.equal(actual.length, expected.length, 'feature lengths differ');
  let maxDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
    maxAbs = Math.max(maxAbs, Math.abs(expected[i]));
  }
  assert.ok(maxAbs > 0, 'reference features are all zero: the comparison would prove nothing');
  return maxDiff / maxAbs;
}

/** A random NHWC batch for `model` (n images). */
function randomBatch(model, n, seed = 7) {
  const [, h, w, c] = model.inputs[0].shape;
  const rand = rng(seed);
  const data = Float32Array.from({ length: n * h * w * c }, () => rand() * 4 - 2);
  return { data, dims: [n, h, w, c] };
}

/**
 * Exports the cut, runs it in onnxruntime on a batch of 3 and checks it against tfjs
 * (relative error ≤ 1e-4); returns the export and the ONNX output.
 */
async function assertMatches(model, cut, { n = 3, seed = 7 } = {}) {
  const { data, dims } = randomBatch(model, n, seed);
  const exported = exportToOnnx(model, cut);
  const features = await runOnnx(exported.bytes, data, dims);
  assert.deepEqual(features.dims, [n, exported.dim]);
  const expected = reference(model, cut, tf.tensor(data, dims));
  const err = relativeError(features.data, expected);
  assert.ok(err <= TOLERANCE, `${cut.layers.join('+')} (${cut.pool ?? 'avg'}): max |onnx - tfjs| / max |tfjs| = ${err}`);
  return { exported, features };
}

/** The op types of an exported model's graph. */
function opTypes(bytes) {
  return onnxProto.onnx.ModelProto.decode(bytes).graph.node.map((n) => n.opType);
}

/** Builds a functional model from `build(input)` → outputs, with random weights. */
function makeModel(shape, build, seed = 1) {
  const input = tf.input({ shape, name: 'img' });
  const outputs = build(input);
  const model = tf.model({ inputs: input, outputs });
  randomizeWeights(model, seed);
  return model;
}

/** `x` flattened by a layer named `<name>_flat` (a cut there checks every element, in Keras order). */
function flat(x, name) {
  return tf.layers.flatten({ name: `${name}_flat` }).apply(x);
}

describe('ONNX export matches tfjs layer by layer', () => {
  for (const size of [8, 9]) {
    test(`Conv2D ${size}×${size}: valid/same, stride 2, even kernels, dilation, no bias, fused activations`, async () => {
      const specs = {
        same_s2_k3: { filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' },
        same_s2_k2: { filters: 4, kernelSize: 2, strides: 2, padding: 'same' },
        same_s1_k4_nobias: { filters: 3, kernelSize: 4, padding: 'same', useBias: false },
        same_dil2: { filters: 4, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'relu6' },
        valid_dil2: { filters: 2, kernelSize: 2, dilationRate: [2, 1], padding: 'valid', activation: 'tanh' },
        valid_s2: { filters: 5, kernelSize: 3, strides: 2, padding: 'valid', activation: 'sigmoid' },
        same_rect: { filters: 3, kernelSize: [3, 2], strides: [2, 1], padding: 'same', activation: 'swish' },
      };
      const model = makeModel([size, size, 3], (x) => Object.entries(specs).map(([name, spec]) => flat(tf.layers.conv2d({ ...spec, name }).apply(x), name)));
      await assertMatches(model, { layers: Object.keys(specs).map((n) => `${n}_flat`) });
    });

    test(`DepthwiseConv2D (multiplier 1 and 2) and SeparableConv2D ${size}×${size}`, async () => {
      const model = makeModel([size, size, 3], (x) => [
        flat(tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', name: 'dw_m2' }).apply(x), 'dw_m2'),
        flat(tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 1, padding: 'valid', useBias: false, activation: 'relu', name: 'dw_m1' }).apply(x), 'dw_m1'),
        flat(tf.layers.separableConv2d({ filters: 3, kernelSize: 2, dilationRate: 2, padding: 'same', name: 'sep_dil' }).apply(x), 'sep_dil'),
        flat(tf.layers.separableConv2d({ filters: 5, kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', activation: 'relu', name: 'sep' }).apply(x), 'sep'),
        flat(tf.layers.separableConv2d({ filters: 4, kernelSize: 2, padding: 'valid', useBias: false, name: 'sep_valid' }).apply(x), 'sep_valid'),
      ]);
      await assertMatches(model, { layers: ['dw_m2_flat', 'dw_m1_flat', 'sep_dil_flat', 'sep_flat', 'sep_valid_flat'] });
    });

    test(`pooling ${size}×${size}: ZeroPadding2D, Cropping2D, Max/AveragePooling2D valid and same, global pools`, async () => {
      const model = makeModel([size, size, 3], (x) => {
        const conv = tf.layers.conv2d({ filters: 4, kernelSize: 1, name: 'conv' }).apply(x);
        return [
          flat(tf.layers.zeroPadding2d({ padding: [[1, 2], [0, 3]], name: 'pad' }).apply(conv), 'pad'),
          flat(tf.layers.cropping2D({ cropping: [[1, 0], [2, 1]], name: 'crop' }).apply(conv), 'crop'),
          flat(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'max_same' }).apply(conv), 'max_same'),
          flat(tf.layers.maxPooling2d({ poolSize: 2, padding: 'valid', name: 'max_valid' }).apply(conv), 'max_valid'),
          flat(tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'avg_same' }).apply(conv), 'avg_same'),
          flat(tf.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: 'same', name: 'avg_same_s1' }).apply(conv), 'avg_same_s1'),
          flat(tf.layers.averagePooling2d({ poolSize: [2, 3], padding: 'valid', name: 'avg_valid' }).apply(conv), 'avg_valid'),
          tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(conv),
          tf.layers.globalMaxPooling2d({ name: 'gmp' }).apply(conv),
        ];
      });
      const layers = ['pad', 'crop', 'max_same', 'max_valid', 'avg_same', 'avg_same_s1', 'avg_valid'].map((n) => `${n}_flat`);
      await assertMatches(model, { layers: [...layers, 'gap', 'gmp'] });
    });
  }

  test('BatchNormalization: folded into a conv feeding only it, affine elsewhere; epsilon, center/scale false', async () => {
    const model = makeModel([7, 7, 3], (x) => {
      const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'conv' }).apply(x);
      const folded = tf.layers.batchNormalization({ epsilon: 0.01, name: 'bn_folded' }).apply(conv);
      const relu = tf.layers.activation({ activation: 'relu', name: 'relu' }).apply(folded);
      // The conv's output is also read by the Add: this BN cannot be folded into it.
      const shared = tf.layers.conv2d({ filters: 4, kernelSize: 1, useBias: false, name: 'conv_shared' }).apply(relu);
      const bnShared = tf.layers.batchNormalization({ center: false, name: 'bn_shared' }).apply(shared);
      const sum = tf.layers.add({ name: 'sum' }).apply([bnShared, shared]);
      // After an activation (conv with a fused relu): affine.
      const act = tf.layers.conv2d({ filters: 4, kernelSize: 1, activation: 'relu', name: 'conv_act' }).apply(sum);
      const bnAfterAct = tf.layers.batchNormalization({ scale: false, name: 'bn_after_act' }).apply(act);
      const dw = tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, useBias: false, name: 'dw' }).apply(bnAfterAct);
      const bnDw = tf.layers.batchNormalization({ center: false, scale: false, name: 'bn_dw' }).apply(dw);
      const sep = tf.layers.separableConv2d({ filters: 3, kernelSize: 2, name: 'sep' }).apply(bnDw);
      const bnSep = tf.layers.batchNormalization({ name: 'bn_sep' }).apply(sep);
      const dense = tf.layers.dense({ units: 5, name: 'dense' }).apply(flat(bnSep, 'bn_sep'));
      return tf.layers.batchNormalization({ name: 'bn_dense' }).apply(dense);
    });
    const { exported } = await assertMatches(model, { layers: ['bn_sep_flat', 'bn_dense'] });
    const ops = opTypes(exported.bytes);
    assert.equal(ops.filter((op) => op === 'Conv').length, 6, 'conv, conv_shared, conv_act, dw, sep (2)');
    assert.equal(ops.filter((op) => op === 'Mul').length, 3, 'bn_shared, bn_after_act and bn_dense stay affine; the others are folded');
    assert.ok(!ops.includes('BatchNormalization'));
  });

  test('a cut at a conv whose BatchNormalization follows keeps the conv unfolded', async () => {
    const model = makeModel([6, 6, 3], (x) => {
      const conv = tf.layers.conv2d({ filters: 3, kernelSize: 3, name: 'conv' }).apply(x);
      return tf.layers.batchNormalization({ name: 'bn' }).apply(conv);
    });
    const { exported } = await assertMatches(model, { layers: ['conv', 'bn'], pool: 'avg+max' });
    assert.equal(exported.dim, 12);
  });

  test('activations: Activation layers, ReLU (max_value), LeakyReLU, ELU, ThresholdedReLU, Softmax', async () => {
    const activations = ['relu', 'relu6', 'sigmoid', 'tanh', 'softmax', 'swish', 'elu', 'selu', 'softplus', 'softsign', 'hardSigmoid', 'linear', 'mish'];
    const model = makeModel([5, 5, 3], (x) => {
      const conv = tf.layers.conv2d({ filters: 4, kernelSize: 1, name: 'conv' }).apply(x);
      const scaled = tf.layers.dense({ units: 4, name: 'pre' }).apply(flat(conv, 'conv'));
      return [
        ...activations.map((a) => flat(tf.layers.activation({ activation: a, name: `act_${a}` }).apply(conv), `act_${a}`)),
        flat(tf.layers.reLU({ name: 'relu_plain' }).apply(conv), 'relu_plain'),
        flat(tf.layers.reLU({ maxValue: 0.5, name: 'relu_max' }).apply(conv), 'relu_max'),
        flat(tf.layers.leakyReLU({ alpha: 0.2, name: 'leaky' }).apply(conv), 'leaky'),
        flat(tf.layers.elu({ name: 'elu' }).apply(conv), 'elu'),
        flat(tf.layers.thresholdedReLU({ theta: 0.3, name: 'thresholded' }).apply(conv), 'thresholded'),
        flat(tf.layers.softmax({ axis: -1, name: 'softmax_c' }).apply(conv), 'softmax_c'),
        tf.layers.activation({ activation: 'softmax', name: 'softmax_2d' }).apply(scaled),
      ];
    });
    const names = [...activations.map((a) => `act_${a}`), 'relu_plain', 'relu_max', 'leaky', 'elu', 'thresholded', 'softmax_c'];
    await assertMatches(model, { layers: [...names.map((n) => `${n}_flat`), 'softmax_2d'] });
  });

  test('merges: residual Add, Multiply (incl. squeeze-excite broadcast), Average, Maximum, Minimum, Concatenate', async () => {
    const model = makeModel([6, 7, 3], (x) => {
      const a = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'a' }).apply(x);
      const b = tf.layers.conv2d({ filters: 4, kernelSize: 1, name: 'b' }).apply(a);
      const residual = tf.layers.add({ name: 'residual' }).apply([a, b]);
      const add3 = tf.layers.add({ name: 'add3' }).apply([a, b, residual]);
      const squeeze = tf.layers.globalAveragePooling2d({ name: 'squeeze' }).apply(residual);
      const excite = tf.layers.dense({ units: 4, activation: 'sigmoid', name: 'excite' }).apply(squeeze);
      const gate = tf.layers.reshape({ targetShape: [1, 1, 4], name: 'gate' }).apply(excite);
      return [
        flat(add3, 'add3'),
        flat(tf.layers.multiply({ name: 'se' }).apply([residual, gate]), 'se'),
        flat(tf.layers.multiply({ name: 'mul' }).apply([a, b]), 'mul'),
        flat(tf.layers.average({ name: 'avg' }).apply([a, b, residual]), 'avg'),
        flat(tf.layers.maximum({ name: 'maxi' }).apply([a, b]), 'maxi'),
        flat(tf.layers.minimum({ name: 'mini' }).apply([a, b]), 'mini'),
        flat(tf.layers.concatenate({ name: 'cat' }).apply([a, b, x]), 'cat'),
        flat(tf.layers.concatenate({ axis: 1, name: 'cat_h' }).apply([a, b]), 'cat_h'),
        flat(tf.layers.concatenate({ axis: 2, name: 'cat_w' }).apply([a, b]), 'cat_w'),
        tf.layers.concatenate({ name: 'cat_2d' }).apply([squeeze, excite]),
      ];
    });
    const names = ['add3', 'se', 'mul', 'avg', 'maxi', 'mini', 'cat', 'cat_h', 'cat_w'];
    await assertMatches(model, { layers: [...names.map((n) => `${n}_flat`), 'cat_2d'] });
  });

  test('Flatten, Reshape and Dense follow Keras (NHWC) element order; inference-time noise layers are identities', async () => {
    const model = makeModel([5, 4, 3], (x) => {
      const conv = tf.layers.conv2d({ filters: 6, kernelSize: 2, padding: 'same', name: 'conv' }).apply(x);
      const dropped = tf.layers.dropout({ rate: 0.5, name: 'drop' }).apply(conv);
      const noisy = tf.layers.gaussianNoise({ stddev: 1, name: 'noise' }).apply(dropped);
      const gdrop = tf.layers.gaussianDropout({ rate: 0.3, name: 'gdrop' }).apply(noisy);
      const flatConv = tf.layers.flatten({ name: 'flatten' }).apply(gdrop);
      const dense = tf.layers.dense({ units: 7, activation: 'relu', name: 'dense' }).apply(flatConv);
      const alpha = tf.layers.alphaDropout({ rate: 0.2, name: 'alpha' }).apply(dense);
      const head = tf.layers.dense({ units: 3, activation: 'softmax', useBias: false, name: 'head' }).apply(alpha);
      const seq = tf.layers.reshape({ targetShape: [20, 6], name: 'seq' }).apply(conv);
      const seqDense = tf.layers.dense({ units: 2, name: 'seq_dense' }).apply(seq);
      const image = tf.layers.reshape({ targetShape: [10, 2, 6], name: 'image' }).apply(conv);
      const imageConv = tf.layers.conv2d({ filters: 2, kernelSize: [3, 1], name: 'image_conv' }).apply(image);
      const back = tf.layers.reshape({ targetShape: [-1], name: 'back' }).apply(imageConv);
      const pixelDense = tf.layers.dense({ units: 2, activation: 'tanh', name: 'pixel_dense' }).apply(conv);
      return [head, seqDense, back, flatConv, flat(pixelDense, 'pixel_dense')];
    });
    const { exported } = await assertMatches(model, { layers: ['flatten', 'head', 'seq_dense', 'back', 'pixel_dense_flat'] });
    assert.equal(exported.dim, 5 * 4 * 6 + 3 + 20 * 2 + 8 * 2 * 2 + 5 * 4 * 2);
    assert.equal(exported.pooled, false);
  });

  test('multi-layer cuts concatenate in order, each spatial output pooled avg, max or avg+max', async () => {
    const model = makeModel([9, 8, 3], (x) => {
      const c1 = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c1' }).apply(x);
      const c2 = tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', name: 'c2' }).apply(c1);
      const gap = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(c2);
      const seq = tf.layers.reshape({ targetShape: [5 * 4, 4], name: 'seq' }).apply(c1);
      return [tf.layers.dense({ units: 3, name: 'fc' }).apply(gap), seq];
    });
    for (const pool of ['avg', 'max', 'avg+max']) {
      const { exported } = await assertMatches(model, { layers: ['c2', 'img', 'fc', 'c1', 'seq'], pool });
      const per = pool === 'avg+max' ? 2 : 1;
      assert.equal(exported.dim, per * (6 + 3 + 4) + 3 + 80);
      assert.equal(exported.pooled, true);
    }
  });

  test('the batch dimension is symbolic; export leaks no tensors, and is deterministic', async () => {
    const model = makeModel([6, 6, 3], (x) => tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(tf.layers.conv2d({ filters: 3, kernelSize: 3, name: 'conv' }).apply(x)));
    const before = tf.memory().numTensors;
    const first = exportToOnnx(model, { layers: ['gap'] });
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(exportToOnnx(model, { layers: ['gap'] }).bytes, first.bytes);
    assert.ok(Number.isInteger(EXPORTER_VERSION) && EXPORTER_VERSION >= 1);
    const graph = onnxProto.onnx.ModelProto.decode(first.bytes).graph;
    assert.deepEqual(graph.input.map((i) => i.name), ['input']);
    assert.deepEqual(graph.output.map((o) => o.name), ['features']);
    assert.equal(graph.input[0].type.tensorType.shape.dim[0].dimParam, 'N');
    for (const n of [1, 5]) await assertMatches(model, { layers: ['gap'] }, { n, seed: n });
  });

  test('a layer shared between two branches is translated once per call', async () => {
    const model = makeModel([6, 6, 3], (x) => {
      const shared = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'shared' });
      const first = shared.apply(x);
      const second = shared.apply(tf.layers.activation({ activation: 'relu', name: 'relu' }).apply(first));
      const bn = tf.layers.batchNormalization({ name: 'bn' }).apply(second);
      return flat(tf.layers.add({ name: 'sum' }).apply([first, bn]), 'sum');
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
  const refuses = (model, layers, pattern) =>
    assert.throws(
      () => exportToOnnx(model, { layers }),
      (err) => err instanceof UnsupportedLayerError && err instanceof CnnfeatError && pattern.test(err.message) && /--engine tfjs/.test(err.message),
    );

  test('an LSTM, channels_first, an unknown activation, a dilated depthwise conv or a custom layer names the layer, its class and --engine tfjs', () => {
    class Doubler extends tf.layers.Layer {
      static className = 'Doubler';
      call(inputs) {
        return tf.mul(Array.isArray(inputs) ? inputs[0] : inputs, 2);
      }
    }
    const input = tf.input({ shape: [4, 4, 3], name: 'img' });
    const seq = tf.layers.reshape({ targetShape: [16, 3], name: 'seq' }).apply(input);
    const lstm = tf.layers.lstm({ units: 2, name: 'lstm' }).apply(seq);
    const cf = tf.layers.conv2d({ filters: 2, kernelSize: 1, dataFormat: 'channelsFirst', name: 'cf' }).apply(input);
    const gelu = tf.layers.dense({ units: 2, activation: 'gelu', name: 'gelu_dense' }).apply(tf.layers.flatten({ name: 'f' }).apply(input));
    const dilated = tf.layers.depthwiseConv2d({ kernelSize: 2, dilationRate: 2, name: 'dw_dilated' }).apply(input);
    const custom = new Doubler({ name: 'doubler' }).apply(input);
    const after = tf.layers.globalAveragePooling2d({ name: 'after_custom' }).apply(custom);
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
    const model = makeModel([4, 4, 3], (x) => tf.layers.conv2d({ filters: 2, kernelSize: 1, name: 'conv' }).apply(x));
    assert.throws(() => exportToOnnx(model, { layers: ['nope'] }), (err) => err instanceof CnnfeatError && /no layer named "nope"/.test(err.message));
    assert.throws(() => exportToOnnx(model, { layers: [] }), CnnfeatError);
  });
});

/** Real-looking images: smooth colour gradients with shapes, and noise. */
async function writeTestImages(dir, count) {
  const files = [];
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

/** Exports `modelJson` cut at `layer` and compares onnxruntime with the tfjs extractor on real images. */
async function assertRealModelMatches(t, { model, layer, preprocess, dim }) {
  const fm = await loadFeatureModel({ model, layer, preprocess, backend: 'wasm' });
  t.after(() => fm.extractor.dispose());
  const layersModel = await loadLayersModel(fm.resolved.modelFile, 'wasm');
  t.after(() => layersModel.dispose());
  const exported = exportToOnnx(layersModel, { layers: [layer] });
  assert.equal(exported.dim, dim);
  const files = await writeTestImages(await tempDir(t), 4);
  const { pixels } = await decodeFiles(files, decodeOptionsOf(fm.settings));
  const input = toInput(pixels, fm.settings);
  const { height, width } = fm.settings.input;
  const features = await runOnnx(exported.bytes, input, [pixels.length, height, width, 3], { intraOpNumThreads: 2, graphOptimizationLevel: 'all' });
  assert.deepEqual(features.dims, [4, dim]);
  const expected = await fm.extractor.run(input, pixels.length);
  const err = relativeError(features.data, expected);
  assert.ok(err <= TOLERANCE, `${model} at ${layer}: max |onnx - tfjs| / max |tfjs| = ${err}`);
}

describe('ONNX export of the real networks', () => {
  test('ResNet50 at avg_pool equals tfjs within 1e-4 on real-looking images', async (t) => {
    const pulled = await runCli(['models', 'pull', 'resnet50', '--json']);
    assert.equal(pulled.code, 0, pulled.stderr);
    await assertRealModelMatches(t, { model: 'resnet50', layer: 'avg_pool', preprocess: 'caffe', dim: 2048 });
  });

  test('MobileNet v1 0.75 at global_average_pooling2d_1 equals tfjs within 1e-4', { skip: !existsSync(path.join(MOBILENET, 'model.json')) && `${MOBILENET} is absent` }, async (t) => {
    assert.ok((await fsp.stat(path.join(MOBILENET, 'model.json'))).isFile());
    await assertRealModelMatches(t, { model: MOBILENET, layer: 'global_average_pooling2d_1', preprocess: 'tf', dim: 768 });
  });
});
