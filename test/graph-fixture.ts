// A tiny TensorFlow.js GraphModel written by hand in the tfjs-converter format:
// input [-1,16,16,3] → Conv2D 3×3×3×4 (SAME) → BiasAdd → Relu ("conv/Relu", spatial)
// → AvgPool 16×16 ("pool/AvgPool", [N,1,1,4]) → Squeeze → MatMul 4×2 → Softmax ("head/Softmax").
import { promises as fsp } from 'node:fs';
import path from 'node:path';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const T = { type: 'DT_FLOAT' };
const ints = (...v: number[]) => ({ list: { i: v.map(String) } });
const constNode = (name: string, shape: number[]) => ({
  name,
  op: 'Const',
  attr: { dtype: T, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: { dim: shape.map((d) => ({ size: String(d) })) } } } },
});

/** Deterministic weights in [-0.5, 0.5). */
function weights(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return (s % 1000) / 1000 - 0.5;
  });
}

/**
 * Writes the graph model into `dir` as model.json + `shards` weight files (the weight bytes split
 * evenly, as tfjs-converter shards them). Returns the model.json path.
 */
export async function makeTinyGraphModel(dir: string, { shards = 2 } = {}): Promise<string> {
  const nodes = [
    {
      name: 'input',
      op: 'Placeholder',
      attr: { dtype: T, shape: { shape: { dim: [-1, 16, 16, 3].map((d) => ({ size: String(d) })) } } },
    },
    constNode('conv/kernel', [3, 3, 3, 4]),
    {
      name: 'conv/Conv2D',
      op: 'Conv2D',
      input: ['input', 'conv/kernel'],
      attr: { T, strides: ints(1, 1, 1, 1), padding: { s: b64('SAME') }, data_format: { s: b64('NHWC') }, dilations: ints(1, 1, 1, 1) },
    },
    constNode('conv/bias', [4]),
    { name: 'conv/BiasAdd', op: 'BiasAdd', input: ['conv/Conv2D', 'conv/bias'], attr: { T, data_format: { s: b64('NHWC') } } },
    { name: 'conv/Relu', op: 'Relu', input: ['conv/BiasAdd'], attr: { T } },
    {
      name: 'pool/AvgPool',
      op: 'AvgPool',
      input: ['conv/Relu'],
      attr: { T, ksize: ints(1, 16, 16, 1), strides: ints(1, 16, 16, 1), padding: { s: b64('VALID') }, data_format: { s: b64('NHWC') } },
    },
    { name: 'pool/Squeeze', op: 'Squeeze', input: ['pool/AvgPool'], attr: { T, squeeze_dims: ints(1, 2) } },
    constNode('head/kernel', [4, 2]),
    { name: 'head/MatMul', op: 'MatMul', input: ['pool/Squeeze', 'head/kernel'], attr: { T, transpose_a: { b: false }, transpose_b: { b: false } } },
    { name: 'head/Softmax', op: 'Softmax', input: ['head/MatMul'], attr: { T } },
  ];
  const specs = [
    { name: 'conv/kernel', shape: [3, 3, 3, 4], dtype: 'float32' },
    { name: 'conv/bias', shape: [4], dtype: 'float32' },
    { name: 'head/kernel', shape: [4, 2], dtype: 'float32' },
  ];
  const data = Buffer.concat(
    specs.map((s, i) => {
      const w = weights(s.shape.reduce((a, b) => a * b, 1), i + 7);
      return Buffer.from(w.buffer, w.byteOffset, w.byteLength);
    }),
  );
  const per = Math.ceil(data.length / shards);
  const paths = Array.from({ length: shards }, (_, i) => `group1-shard${i + 1}of${shards}.bin`);
  await fsp.mkdir(dir, { recursive: true });
  for (const [i, name] of paths.entries()) await fsp.writeFile(path.join(dir, name), data.subarray(i * per, (i + 1) * per));
  const json = {
    format: 'graph-model',
    generatedBy: 'cnnfeat tests',
    convertedBy: 'hand-written',
    modelTopology: { node: nodes, library: {}, versions: { producer: 1 } },
    weightsManifest: [{ paths, weights: specs }],
  };
  await fsp.writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
  return path.join(dir, 'model.json');
}
