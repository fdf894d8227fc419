/**
 * Variants of an engine graph, made from it once and cached beside it: float16 computation
 * (`--precision fp16`) and raw-pixel input (normalisation inside the graph). The variant's file
 * name carries what it is, so graphs of different precisions never stand in for each other.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { CnnfeatError, ExitCode, errorMessage } from '../../errors.js';
import { convertToFloat16 } from '../../formats/onnx-fp16.js';
import { decodeOnnx, elementTypeCode, type ModelProto } from '../../formats/onnx-model.js';
import { withPixelInput } from '../../formats/onnx-pixels.js';
import { onnx } from '../../formats/onnx-proto.js';
import { bytesWithData } from '../../formats/onnx-wrap.js';
import { pixelAffine, type PixelAffine, type PreprocessMode } from '../../image/preprocess.js';
import { statOrNull, writeFileAtomic } from '../../util/fs.js';
import { sha256OfText } from '../../util/hash.js';
import type { Logger } from '../../util/log.js';
import type { Precision } from '../engine.js';
import { OnnxRuntimeError, type FeatureGraph } from './session.js';

/** Version of the variants; bump whenever the conversion changes (part of their file names). */
const VARIANT_VERSION = 2;

/** Smallest cosine between a float16 graph's features and the float32 graph's on the check images. */
const FP16_MIN_COSINE = 0.999;

/** What variant of a graph to run. */
export interface VariantRequest {
  precision: Precision;
  /** Raw uint8 pixels in, normalised inside the graph by `preprocess`. */
  pixels: boolean;
  /** The images' normalisation (needed with `pixels`; makes the float16 check realistic). */
  preprocess?: PreprocessMode;
}

/**
 * The graph to run for `req`: `graph` itself for float32 with float input, else its variant,
 * made now (float16 conversion checked against float32 on two images) unless cached.
 * @throws OnnxRuntimeError when `graph`'s file cannot be read (a damaged cache: made again);
 *   CnnfeatError when float16 changes the features too much or cannot convert the graph
 */
export async function graphVariant(graph: FeatureGraph, req: VariantRequest, { logger, threads = os.availableParallelism() }: { logger: Logger; threads?: number }): Promise<FeatureGraph> {
  if (req.precision === 'fp32' && !req.pixels) return graph;
  if (req.pixels && !req.preprocess) throw new CnnfeatError('pixels: a pixel-input graph needs the images\' normalisation (preprocess)');
  const affine = req.pixels ? pixelAffine(req.preprocess!) : null;
  const tag = sha256OfText(JSON.stringify([VARIANT_VERSION, req.precision, affine])).slice(0, 12);
  const file = `${graph.file.replace(/\.onnx$/, '')}.${req.precision}${affine ? '-pixels' : ''}-${tag}.onnx`;
  const variant: FeatureGraph = { ...graph, file, precision: req.precision, pixelInput: req.pixels };
  if (graph.cached && (await statOrNull(file))?.isFile()) return { ...variant, cached: true };
  let proto = await readGraph(graph.file, req.precision === 'fp16');
  if (req.precision === 'fp16') {
    logger.info(`Converting ${path.basename(graph.file)} to float16, once: ${file}`);
    proto = await checkedFloat16(proto, graph, req.preprocess, threads);
  }
  if (affine) proto = withPixelInput(proto, affine);
  await writeFileAtomic(file, onnx.ModelProto.encode(proto).finish());
  return { ...variant, cached: false };
}

/** The graph's model, with external data read in when `inline` (the float16 conversion rewrites every weight). */
async function readGraph(file: string, inline: boolean): Promise<ModelProto> {
  try {
    const proto = decodeOnnx(await fsp.readFile(file), file, ExitCode.internal);
    return inline ? decodeOnnx(await bytesWithData(proto, file), file, ExitCode.internal) : proto;
  } catch (err) {
    throw new OnnxRuntimeError(`${file}: cannot read the cached graph: ${errorMessage(err)}`);
  }
}

/** Two photo-like images (smooth colour fields with noise) as the graph takes them: normalised float32. */
function checkImages(size: { height: number; width: number }, preprocess: PreprocessMode | undefined): Float32Array {
  const affine: PixelAffine = pixelAffine(preprocess ?? 'unit');
  const { height, width } = size;
  const out = new Float32Array(2 * height * width * 3);
  let s = 12345;
  for (let n = 0; n < 2; n++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        const noise = ((s >>> 16) % 41) - 20;
        const rgb = [128 + 90 * Math.sin((3 + n) * Math.PI * (x / width)), 128 + 90 * Math.cos((2 + n) * Math.PI * (y / height)), (x ^ y) & 16 ? 200 : 60];
        const o = ((n * height + y) * width + x) * 3;
        for (let c = 0; c < 3; c++) {
          const v = Math.max(0, Math.min(255, Math.round(rgb[affine.channels[c]!]! + noise)));
          out[o + c] = v * affine.scale[c]! + affine.shift[c]!;
        }
      }
    }
  }
  return out;
}

async function session(proto: ModelProto, threads: number): Promise<Ort.InferenceSession> {
  const ort = await import('onnxruntime-node');
  return ort.InferenceSession.create(onnx.ModelProto.encode(proto).finish(), { intraOpNumThreads: threads, interOpNumThreads: 1, logSeverityLevel: 3 });
}

async function runOn(s: Ort.InferenceSession, images: Float32Array, n: number, size: { height: number; width: number }) {
  const ort = await import('onnxruntime-node');
  return s.run({ input: new ort.Tensor('float32', images.subarray(0, n * size.height * size.width * 3), [n, size.height, size.width, 3]) });
}

/**
 * The float16 conversion of `proto`, checked against it on two images.
 * @throws CnnfeatError when the conversion fails, does not load in onnxruntime or changes the features too much
 */
async function checkedFloat16(proto: ModelProto, graph: FeatureGraph, preprocess: PreprocessMode | undefined, threads: number): Promise<ModelProto> {
  const name = path.basename(graph.file);
  const check = checkImages(graph.input, preprocess);
  try {
    const converted = convertToFloat16(proto, await tensorTypes(proto, check, graph.input, threads), name);
    await assertCloseFeatures(proto, converted, check, graph.input, threads);
    return converted;
  } catch (err) {
    if (err instanceof CnnfeatError) throw err;
    throw new CnnfeatError(`${name}: the float16 conversion (--precision fp16) failed (${errorMessage(err).split('\n')[0]}); use --precision fp32`);
  }
}

/**
 * The element type of every tensor of the graph: declared for inputs and initialisers, and for
 * the rest found by running the graph once (on the CPU provider) with every node output exposed.
 */
async function tensorTypes(proto: ModelProto, images: Float32Array, size: { height: number; width: number }, threads: number): Promise<Map<string, number>> {
  const graph = proto.graph!;
  const types = new Map<string, number>();
  for (const t of graph.initializer ?? []) types.set(t.name ?? '', Number(t.dataType));
  for (const i of graph.input ?? []) if (i.type?.tensorType?.elemType) types.set(i.name ?? '', Number(i.type.tensorType.elemType));
  const declared = new Set([...(graph.output ?? []), ...(graph.input ?? [])].map((v) => v.name ?? ''));
  const inner = (graph.node ?? []).flatMap((n) => n.output ?? []).filter((name) => name !== '' && !declared.has(name));
  const exposed = onnx.ModelProto.create({
    ...proto,
    graph: onnx.GraphProto.create({ ...graph, output: [...(graph.output ?? []), ...inner.map((name) => onnx.ValueInfoProto.create({ name }))] }),
  });
  const s = await session(exposed, threads);
  try {
    const outputs = await runOn(s, images, 1, size);
    for (const [name, value] of Object.entries(outputs)) types.set(name, elementTypeCode(value.type));
  } finally {
    await s.release();
  }
  return types;
}

/** Refuses a float16 graph whose features differ from the float32 graph's (cosine below {@link FP16_MIN_COSINE}) on the check images. */
async function assertCloseFeatures(fp32: ModelProto, fp16: ModelProto, images: Float32Array, size: { height: number; width: number }, threads: number): Promise<void> {
  const perImage = size.height * size.width * 3;
  // Image by image: a graph may run with a batch of 1 only.
  const features = async (proto: ModelProto) => {
    const s = await session(proto, threads);
    try {
      const rows: Float32Array[] = [];
      for (let i = 0; i < 2; i++) rows.push((await runOn(s, images.subarray(i * perImage), 1, size)).features!.data as Float32Array);
      return rows;
    } finally {
      await s.release();
    }
  };
  const [a, b] = [await features(fp32), await features(fp16)];
  const worst = Math.min(cosine(a[0]!, b[0]!), cosine(a[1]!, b[1]!));
  if (!(worst >= FP16_MIN_COSINE)) {
    throw new CnnfeatError(`float16 changes this model's features too much (cosine ${worst.toFixed(4)} against float32 on a test image, below ${FP16_MIN_COSINE}); use --precision fp32`);
  }
}

/** Cosine similarity of two vectors (1 for two zero vectors). */
function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 && nb === 0 ? 1 : dot / Math.sqrt(na * nb);
}
