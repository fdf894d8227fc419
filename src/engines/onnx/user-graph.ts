/**
 * Users' own ONNX models (torch.onnx.export, tf2onnx…) on the onnx engine: the graph is cut at
 * the requested tensors and wrapped into the engine's interface (NHWC float32 `input`, one
 * `features` [N, D] output) once, cached under `<cache>/onnx/` by weights digest and cut.
 */
import os from 'node:os';
import path from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { CnnfeatError, errorMessage } from '../../errors.js';
import { cacheDir } from '../../util/cache.js';
import { makeDir, readJson, statOrNull, writeJsonAtomic } from '../../util/fs.js';
import { sha256OfText } from '../../util/hash.js';
import type { Logger } from '../../util/log.js';
import { silentLogger } from '../../util/log.js';
import { unknownCutError } from '../../util/names.js';
import { classifierHead, defaultCut, featureReason, GraphIndex, tensorLayout } from '../../formats/onnx-cut.js';
import { declaredType, readOnnxModel, type Dim, type Layout, type OnnxImageInput, type OnnxModel } from '../../formats/onnx-model.js';
import { bytesWithData, wrapModel, writeModelFiles, type CutTensor } from '../../formats/onnx-wrap.js';
import type { EngineLoadOptions, FeatureExtractor, PoolMode } from '../engine.js';
import { onnxRuntimeVersion, startCachedGraph, type FeatureGraph, type GraphRunOptions } from './engine.js';

/** Version of the wrapping; bump whenever the wrapped graph changes (part of the cache key). */
export const WRAPPER_VERSION = 1;

/** Input size used when the model leaves height and width open and none is given. */
export const DEFAULT_ONNX_INPUT = { height: 224, width: 224 } as const;

const FLOAT_TYPES = new Set(['float32', 'float16', 'float64', 'bfloat16']);

/** A user's ONNX model: the file, the digest of its files and the input size asked for. */
export interface UserOnnxSource {
  modelFile: string;
  weightsDigest: string;
  /** Height × width to feed when the model leaves them open (a card's, or `--input`). */
  input?: { height: number; width: number };
}

/** Options of {@link loadUserOnnxExtractor}; `preprocess`: a uint8 model takes raw pixels (`none`) only. */
export interface UserOnnxOptions extends Partial<EngineLoadOptions>, GraphRunOptions {}

/** What is stored beside a wrapped graph: enough to run it without reading the user's model. */
export interface CutRecord extends Omit<FeatureGraph, 'file' | 'cached'> {
  wrapperVersion: number;
  weightsDigest: string;
  /** The user model's input: layout and element type. */
  layout: Layout;
  inputType: string;
  /** 1 when the model runs only image by image. */
  batch: 'N' | 1;
  /** Said on every load (e.g. about a fixed batch). */
  note?: string;
  /** Files of the wrapped graph (the .onnx, and its .data when the model had external data). */
  files: string[];
}

/**
 * Loads a user's ONNX model cut at `opts.layers` (default: the input of the classifier head, else
 * the single output) on onnxruntime. The wrapped graph is made on first use and cached.
 * @throws CnnfeatError (exit 2) for a bad model, cut or input, naming the file and the fix
 */
export async function loadUserOnnxExtractor(source: UserOnnxSource, opts: UserOnnxOptions = {}): Promise<FeatureExtractor> {
  const logger = opts.logger ?? silentLogger;
  const cut = { layers: opts.layers ?? [], pool: opts.pool ?? 'avg' };
  let record: CutRecord | undefined;
  const extractor = await startCachedGraph(
    async (fresh) => {
      const graph = await cutGraph(source, cut, { logger, fresh, threads: opts.threads });
      checkPreprocess(graph, opts.preprocess, source.modelFile);
      record = graph;
      return graph;
    },
    { ...opts, logger, redo: 'cutting the model again' },
  );
  if (record!.note) logger.info(record!.note);
  return record!.batch === 1 ? imageByImage(extractor) : extractor;
}

/** A model with a uint8 input takes raw pixels: any other normalisation is refused. */
export function checkPreprocess(record: Pick<CutRecord, 'inputType'>, preprocess: string | undefined, modelFile: string): void {
  if (record.inputType === 'uint8' && preprocess !== undefined && preprocess !== 'none') {
    throw new CnnfeatError(`${modelFile}: the model takes uint8 pixels (0–255); use no preprocessing (--preprocess none)`);
  }
}

/** An extractor for a graph that runs one image at a time: a batch is fed image by image. */
function imageByImage(extractor: FeatureExtractor): FeatureExtractor {
  const perImage = extractor.input.height * extractor.input.width * 3;
  return {
    ...extractor,
    async run(batch, n) {
      const features = new Float32Array(n * extractor.dim);
      for (let i = 0; i < n; i++) {
        const row = await extractor.run(batch.slice(i * perImage, (i + 1) * perImage), 1, { transfer: true });
        features.set(row, i * extractor.dim);
      }
      return features;
    },
  };
}

/**
 * The wrapped graph of `source` cut at `cut`, from the cache or made now (and cached): checks the
 * cut, probes its tensors with one inference and writes the graph. Also `cnnfeat models add`'s check.
 */
export async function cutGraph(
  source: UserOnnxSource,
  cut: { layers: string[]; pool: PoolMode },
  { logger = silentLogger, fresh = false, threads }: { logger?: Logger; fresh?: boolean; threads?: number } = {},
): Promise<CutRecord & FeatureGraph> {
  const dir = path.join(cacheDir(), 'onnx');
  const key = sha256OfText(JSON.stringify(['onnx-model', source.weightsDigest, cut, source.input ?? null, WRAPPER_VERSION])).slice(0, 24);
  const file = path.join(dir, `${key}.onnx`);
  const recordFile = path.join(dir, `${key}.json`);
  if (!fresh && (await statOrNull(recordFile))?.isFile()) {
    const record = await readJson<CutRecord>(recordFile).catch(() => null);
    const present = record && (await Promise.all(record.files.map(async (f) => (await statOrNull(path.join(dir, f)))?.isFile()))).every(Boolean);
    if (record && present) return { ...record, file, cached: true };
  }
  const model = await readOnnxModel(source.modelFile);
  const size = inputSizeOf(model, source.input);
  const layers = checkedCut(model, cut.layers);
  const probed = await probeCut(model, layers, size, threads ?? os.availableParallelism());
  logger.info(`Cutting ${source.modelFile} at ${layers.join(', ')} for onnxruntime, once: ${file}`);
  const pools: ('avg' | 'max')[] = cut.pool === 'avg+max' ? ['avg', 'max'] : [cut.pool];
  const wrapped = wrapModel(model, { size, batch: probed.batch, cut: layers, features: { tensors: probed.tensors, pools } });
  await makeDir(dir);
  const written = await writeModelFiles(wrapped.proto, model.file, file);
  const record: CutRecord = {
    wrapperVersion: WRAPPER_VERSION,
    weightsDigest: source.weightsDigest,
    layers,
    pool: cut.pool,
    dim: wrapped.dim,
    pooled: wrapped.pooled,
    input: size,
    layout: model.input.layout,
    inputType: model.input.type,
    batch: probed.batch,
    ...(probed.note ? { note: `${path.basename(model.file)}: ${probed.note}` } : {}),
    files: written.map((f) => path.basename(f)),
  };
  await writeJsonAtomic(recordFile, record);
  return { ...record, file, cached: false };
}

/** The height × width to feed: the model's when fixed (a different request is refused), else the request, else 224×224. */
function inputSizeOf(model: OnnxModel, requested: { height: number; width: number } | undefined): { height: number; width: number } {
  const { dims, layout } = model.input;
  const [h, w] = layout === 'NCHW' ? [dims[2], dims[3]] : [dims[1], dims[2]];
  const size = {
    height: typeof h === 'number' ? h : (requested?.height ?? DEFAULT_ONNX_INPUT.height),
    width: typeof w === 'number' ? w : (requested?.width ?? DEFAULT_ONNX_INPUT.width),
  };
  if (requested && (requested.height !== size.height || requested.width !== size.width)) {
    throw new CnnfeatError(`${model.file}: the model's input is fixed at ${size.height}x${size.width} (${describeInput(model.input)}); leave out the input size (--input) or give ${size.height}x${size.width}`);
  }
  return size;
}

/** The input in words: `"x" float32 [N, 3, 224, 224] NCHW`. */
export function describeInput(input: OnnxImageInput): string {
  return `"${input.name}" ${input.type} [${input.dims.join(', ')}] ${input.layout}`;
}

/**
 * The tensors to cut at: the named ones, each checked to exist (else the closest names are listed)
 * and to be computed from the image; or the default cut.
 */
function checkedCut(model: OnnxModel, requested: string[]): string[] {
  const index = new GraphIndex(model.proto.graph!);
  const fromImage = index.dependents(model.input.name);
  if (requested.length === 0) {
    const fallback = defaultCut(index, fromImage);
    if (!fallback) {
      throw new CnnfeatError(`${model.file}: no classifier head (Gemm/MatMul) and not a single output to cut at; name the tensors to cut at (--layer; see \`cnnfeat layers ${model.file}\`)`);
    }
    return [fallback];
  }
  const known = new Set([model.input.name, ...index.tensorNames()]);
  for (const name of requested) {
    if (!known.has(name) && !index.initializers.has(name)) {
      throw unknownCutError('tensor', name, [...known], model.file);
    }
    if (!fromImage.has(name)) {
      throw new CnnfeatError(`${model.file}: tensor "${name}" does not depend on the image input "${model.input.name}" (a weight or constant); cut at a tensor computed from the image`);
    }
  }
  return requested;
}

/** What a probe found: each cut tensor's shape and type, and the batch the graph runs with. */
interface Probe {
  tensors: CutTensor[];
  batch: 'N' | 1;
  note?: string;
}

/**
 * Runs the model cut at `layers` once on one image and once on two: the shapes and types of the
 * cut tensors, and whether batches work. A model with a fixed batch of 1 is run with the batch
 * made symbolic when its rows come out the same, else image by image.
 */
async function probeCut(model: OnnxModel, layers: string[], size: { height: number; width: number }, threads: number): Promise<Probe> {
  const wrapped = wrapModel(model, { size, batch: 'N', cut: layers });
  const session = await probeSession(model, await bytesWithData(wrapped.proto, model.file), threads);
  try {
    const [a, b] = [probeImage(size, 1), probeImage(size, 2)];
    const one = await runProbe(session, model, a, 1, size);
    const index = new GraphIndex(model.proto.graph!);
    const tensors = layers.map((name, k) => {
      const out = one[k]!;
      if (!FLOAT_TYPES.has(out.type)) throw new CnnfeatError(`${model.file}: tensor "${name}" holds ${out.type} values, not features; cut at a float tensor`);
      if (out.dims.length < 2 || out.dims[0] !== 1) {
        throw new CnnfeatError(`${model.file}: tensor "${name}" has shape [${out.dims.join(', ')}] for one image, without a leading batch dimension; cut at a tensor of shape [N, …]`);
      }
      return { name, shape: out.dims.map(Number), type: out.type, layout: tensorLayout(index, name, model.input) };
    });
    if (await batchesAgree(session, model, one, a, b, size)) {
      const note = model.input.batch === 1 ? 'the model declares a fixed batch of 1; it runs batched with the batch dimension made symbolic (rows checked equal to single-image runs)' : undefined;
      return { tensors, batch: 'N', note };
    }
    if (model.input.batch !== null && model.input.batch !== 1) {
      throw new CnnfeatError(`${model.file}: the model runs only with its fixed batch of ${model.input.batch}; export it with a dynamic batch axis (torch.onnx.export(..., dynamic_axes={"input": {0: "batch"}}))`);
    }
    return { tensors, batch: 1, note: 'the model runs only with a batch of 1, so images go through it one at a time (slower); export it with a dynamic batch axis for batched runs' };
  } finally {
    await session.release();
  }
}

/** Whether the cut graph run on images a and b together gives the rows of a and b run alone. */
async function batchesAgree(session: Ort.InferenceSession, model: OnnxModel, one: Ort.Tensor[], a: Float32Array, b: Float32Array, size: { height: number; width: number }): Promise<boolean> {
  try {
    const both = new Float32Array(a.length * 2);
    both.set(a);
    both.set(b, a.length);
    const two = await runProbe(session, model, both, 2, size);
    const second = await runProbe(session, model, b, 1, size);
    return two.every((t, k) => t.dims[0] === 2 && sameRows(t, [one[k]!, second[k]!]));
  } catch {
    return false;
  }
}

/** Whether a batch's values equal the rows run one by one, within 1e-3 of their largest magnitude. */
function sameRows(batch: Ort.Tensor, rows: Ort.Tensor[]): boolean {
  const values = batch.data as ArrayLike<number>;
  const expected = rows.map((r) => r.data as ArrayLike<number>);
  if (values.length !== expected.reduce((n, r) => n + r.length, 0)) return false;
  let scale = 1e-6;
  for (const r of expected) for (let i = 0; i < r.length; i++) scale = Math.max(scale, Math.abs(Number(r[i])));
  let k = 0;
  for (const r of expected) {
    for (let i = 0; i < r.length; i++, k++) if (!(Math.abs(Number(values[k]) - Number(r[i])) <= 1e-3 * scale)) return false;
  }
  return true;
}

/** A deterministic image-like batch of one, in the range preprocessed pixels have. */
function probeImage(size: { height: number; width: number }, seed: number): Float32Array {
  let s = seed * 2654435761;
  return Float32Array.from({ length: size.height * size.width * 3 }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.floor((s / 2 ** 32) * 256);
  }).map((v) => v / 64 - 2);
}

async function runProbe(session: Ort.InferenceSession, model: OnnxModel, pixels: Float32Array, n: number, size: { height: number; width: number }): Promise<Ort.Tensor[]> {
  const ort = await import('onnxruntime-node');
  const values = model.input.type === 'uint8' ? pixels.map((v) => (v + 2) * 64) : pixels;
  try {
    const outputs = await session.run({ input: new ort.Tensor('float32', values, [n, size.height, size.width, 3]) });
    return session.outputNames.map((name) => outputs[name]!);
  } catch (err) {
    const fixed = model.input.batch !== null && model.input.batch !== 1 ? `it declares a fixed batch of ${model.input.batch}: export it with a dynamic batch axis` : 'check the input size (--input HxW)';
    throw new CnnfeatError(`${model.file}: onnxruntime could not run the model on a ${size.height}x${size.width} image: ${shortOrtMessage(err)}; ${fixed}`);
  }
}

/** An onnxruntime session on a probe graph; a model it cannot load is a one-line usage error. */
async function probeSession(model: OnnxModel, bytes: Uint8Array, threads: number): Promise<Ort.InferenceSession> {
  const ort = await import('onnxruntime-node');
  try {
    return await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, logSeverityLevel: 3 });
  } catch (err) {
    throw new CnnfeatError(`${model.file}: onnxruntime ${onnxRuntimeVersion()} cannot run this model: ${shortOrtMessage(err)}`);
  }
}

/** onnxruntime's (often multi-line) error, as one short line naming the op when it is about one. */
export function shortOrtMessage(err: unknown): string {
  const message = errorMessage(err);
  const noOp = /No Op registered for (\S+) with domain_version of (\d+)/.exec(message);
  if (noOp) return `it has no operator ${noOp[1]} in opset ${noOp[2]}`;
  const foreign = /(\S+):(\S+)\(-?\d+\) is not a registered function\/op/.exec(message);
  if (foreign) return `it has no operator ${foreign[2]} of domain ${foreign[1]}`;
  const kernel = /Could not find an implementation for (\S+)\((\d+)\) node with name '([^']*)'/.exec(message);
  if (kernel) return `it has no CPU kernel for ${kernel[1]} (opset ${kernel[2]}) at node "${kernel[3]}" (for these input types)`;
  const line = message.split('\n').map((l) => l.trim()).find(Boolean) ?? message;
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** A tensor of a user's ONNX model as `cnnfeat layers` lists it. */
export interface OnnxTensorInfo {
  name: string;
  op: string;
  /** The node that computes it. */
  node: string;
  /** Shape with the batch dimension null; null when unknown. */
  outputShape: (Dim | null)[] | null;
  type: string | null;
  /** Why it is a likely feature tensor (global pooling, ReduceMean over H×W, pre-logits), or null. */
  feature: string | null;
}

/** What `cnnfeat layers` shows of an ONNX model. */
export interface OnnxListing {
  input: OnnxImageInput;
  opset: number;
  /** The size the shapes were computed for. */
  size: { height: number; width: number };
  tensors: OnnxTensorInfo[];
  defaultCut: string | null;
  /** `inference` (one run of a blank image) or `value_info` (the shapes the file declares, when onnxruntime cannot run it). */
  shapesFrom: 'inference' | 'value_info';
}

/**
 * Lists the float tensors computed from the image, with op, shape (one inference of a blank
 * image; the declared value_info when onnxruntime cannot run the model) and, for the likely
 * feature tensors, why; and the default cut.
 */
export async function listOnnxTensors(modelFile: string, { input, logger = silentLogger }: { input?: { height: number; width: number }; logger?: Logger } = {}): Promise<OnnxListing> {
  const model = await readOnnxModel(modelFile);
  const size = inputSizeOf(model, input);
  const index = new GraphIndex(model.proto.graph!);
  const fromImage = index.dependents(model.input.name);
  const names = index.tensorNames().filter((n) => fromImage.has(n));
  let shapes = new Map<string, { dims: (Dim | null)[] | null; type: string | null }>();
  let shapesFrom: OnnxListing['shapesFrom'] = 'inference';
  try {
    shapes = await inferShapes(model, names, size);
  } catch (err) {
    logger.warn(`${errorMessage(err)}; shapes are the ones the file declares`);
    shapesFrom = 'value_info';
    const declared = new Map((model.proto.graph!.valueInfo ?? []).concat(model.proto.graph!.output ?? []).map((v) => [v.name ?? '', declaredType(v)]));
    shapes = new Map(names.map((n) => [n, declared.get(n) ?? { dims: null, type: null }]));
  }
  const head = classifierHead(index, fromImage)?.input ?? null;
  const layoutOf = (t: string) => tensorLayout(index, t, model.input);
  const tensors = names
    .filter((n) => shapes.get(n)?.type == null || FLOAT_TYPES.has(shapes.get(n)!.type!))
    .map((name) => {
      const node = index.producers.get(name)!.node;
      const dims = shapes.get(name)?.dims ?? null;
      const numeric = dims?.every((d) => typeof d === 'number') ? (dims as number[]) : null;
      return {
        name,
        op: node.opType ?? '',
        node: node.name ?? '',
        outputShape: dims ? [null, ...dims.slice(1)] : null,
        type: shapes.get(name)?.type ?? null,
        feature: featureReason(index, node, name, { head, layoutOf, shape: numeric }),
      };
    });
  return { input: model.input, opset: model.opset, size, tensors, defaultCut: defaultCut(index, fromImage), shapesFrom };
}

/** Shapes and types of `names` from one inference of a blank image. */
async function inferShapes(model: OnnxModel, names: string[], size: { height: number; width: number }) {
  const wrapped = wrapModel(model, { size, batch: 'N', cut: names });
  const session = await probeSession(model, await bytesWithData(wrapped.proto, model.file), 1);
  try {
    const outputs = await runProbe(session, model, new Float32Array(size.height * size.width * 3), 1, size);
    return new Map(names.map((n, k) => [n, { dims: outputs[k]!.dims.map(Number) as (Dim | null)[], type: outputs[k]!.type as string | null }]));
  } finally {
    await session.release();
  }
}
