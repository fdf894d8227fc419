// Reading ONNX model files: the ModelProto, its image input, its opset and its external data files.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type onnxProto from 'onnx-proto';
import { onnx } from './onnx-proto.js';
import { CnnfeatError, ExitCode, errorMessage } from '../errors.js';
import { statOrNull } from '../util/fs.js';


export type ModelProto = InstanceType<typeof onnx.ModelProto>;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;

/** An int64 field as protobufjs decodes it (a Long unless it fits a plain number). */
type Int64 = number | { toNumber(): number };

/** A protobuf int64 as a number (ONNX sizes, versions and offsets are far below 2^53). */
export function toInt(value: Int64 | null | undefined): number {
  if (value == null) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

/** onnxruntime's names of the ONNX element types (TensorProto.DataType). */
const ELEMENT_TYPES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  16: 'bfloat16',
};

/** The onnxruntime name of an ONNX element type code (`float32`, `float16`, `uint8`…). */
export function elementTypeName(code: number | null | undefined): string {
  return ELEMENT_TYPES[code ?? 0] ?? `type ${code ?? 0}`;
}

/** The ONNX element type code of an onnxruntime type name. */
export function elementTypeCode(name: string): number {
  const found = Object.entries(ELEMENT_TYPES).find(([, n]) => n === name);
  if (!found) throw new Error(`unknown ONNX element type ${name}`);
  return Number(found[0]);
}

/** One dimension of a declared shape: a size, or the name of a symbolic dimension (`?` when unnamed). */
export type Dim = number | string;

/** Layout of an image tensor: where its 3 channels are. */
export type Layout = 'NCHW' | 'NHWC';

/** The image input of a model: the one 4-D input with 3 channels. */
export interface OnnxImageInput {
  name: string;
  /** Element type as onnxruntime names it (`float32`, `float16`, `uint8`…). */
  type: string;
  dims: Dim[];
  layout: Layout;
  /** Fixed batch size, or null when the batch dimension is symbolic. */
  batch: number | null;
  /** Fixed height × width, or null when either is symbolic. */
  size: { height: number; width: number } | null;
}

/** A parsed, checked ONNX model file. */
export interface OnnxModel {
  file: string;
  proto: ModelProto;
  /** Version of the default (ai.onnx) operator set. */
  opset: number;
  input: OnnxImageInput;
  /** Absolute paths of the external-data files its initializers live in, in order of first use. */
  externalFiles: string[];
}

/** Whether a path or URL names an ONNX model file (by its `.onnx` extension; a URL's query is ignored). */
export function isOnnxPath(spec: string): boolean {
  const pathname = /^https?:\/\//i.test(spec) ? new URL(spec).pathname : spec;
  return /\.onnx$/i.test(pathname);
}

/**
 * Reads an ONNX model file: decodes it, finds its image input and checks that every external-data
 * file it names is beside it and long enough.
 * @throws CnnfeatError naming the file: not ONNX, truncated, no image input, missing external data
 */
export async function readOnnxModel(file: string): Promise<OnnxModel> {
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(file);
  } catch (err) {
    throw new CnnfeatError(`${file}: cannot read the ONNX model (${errorMessage(err)})`);
  }
  const proto = decodeOnnx(bytes, file);
  return { file, proto, opset: opsetOf(proto), input: imageInputOf(proto, file), externalFiles: await checkExternalData(proto, file) };
}

/**
 * Decodes ModelProto bytes. Every ONNX writer starts with the IR version (field 1), so other
 * bytes are "not an ONNX model", and a decoder running past the end means a truncated file.
 * @param exitCode ExitCode.model for a downloaded file (the download is refused)
 */
export function decodeOnnx(bytes: Uint8Array, where: string, exitCode: number = ExitCode.usage): ModelProto {
  const notOnnx = (why: string) => new CnnfeatError(`${where}: not an ONNX model (${why}); give a .onnx file written by torch.onnx.export, tf2onnx or onnx.save`, exitCode);
  if (bytes.length === 0) throw notOnnx('the file is empty');
  if (bytes[0] !== 0x08) throw notOnnx('it does not start with an ONNX IR version');
  let proto: ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (err) {
    if (err instanceof RangeError) {
      throw new CnnfeatError(`${where}: the ONNX file is truncated (${bytes.length} bytes; ${err.message}); download or copy it again`, exitCode);
    }
    throw notOnnx(errorMessage(err));
  }
  if (toInt(proto.irVersion) <= 0 || !proto.graph || (proto.graph.node ?? []).length === 0) {
    throw notOnnx('no IR version or no graph nodes; the file may be truncated');
  }
  return proto;
}

/** The version of the default (ai.onnx) operator set a model imports. */
export function opsetOf(proto: ModelProto): number {
  const entry = (proto.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  return toInt(entry?.version);
}

/** The declared element type and dims of a value (dims null when no shape is declared). */
export function declaredType(info: ValueInfoProto | undefined): { type: string | null; dims: Dim[] | null } {
  const tensor = info?.type?.tensorType;
  if (!tensor) return { type: null, dims: null };
  const type = tensor.elemType ? elementTypeName(tensor.elemType) : null;
  if (!tensor.shape) return { type, dims: null };
  const dims = (tensor.shape.dim ?? []).map((d) => {
    if (d.dimValue != null && toInt(d.dimValue) > 0) return toInt(d.dimValue);
    return d.dimParam || '?';
  });
  return { type, dims };
}

/**
 * The image input: among the graph inputs that are not initializers, the one of rank 4 with 3
 * channels at axis 1 (NCHW, preferred when both fit) or 3 (NHWC).
 */
export function imageInputOf(proto: ModelProto, where: string): OnnxImageInput {
  const graph = proto.graph!;
  const initialized = new Set((graph.initializer ?? []).map((t) => t.name));
  const inputs = (graph.input ?? []).filter((i) => !initialized.has(i.name));
  const described = inputs.map((i) => ({ name: i.name ?? '', ...declaredType(i) }));
  const images = described.filter((i) => i.dims?.length === 4 && (i.dims[1] === 3 || i.dims[3] === 3));
  const list = described.map((i) => `"${i.name}" ${i.type ?? '?'} [${i.dims?.join(', ') ?? '?'}]`).join(', ') || 'none';
  if (images.length !== 1) {
    const what = images.length === 0 ? 'no 4-D image input with 3 channels (NCHW [N, 3, H, W] or NHWC [N, H, W, 3])' : 'several image inputs';
    throw new CnnfeatError(`${where}: ${what}; its inputs: ${list}. cnnfeat feeds one RGB image batch`);
  }
  const image = images[0]!;
  const dims = image.dims!;
  const layout: Layout = dims[1] === 3 ? 'NCHW' : 'NHWC';
  const [h, w] = layout === 'NCHW' ? [dims[2], dims[3]] : [dims[1], dims[2]];
  return {
    name: image.name,
    type: image.type ?? 'float32',
    dims,
    layout,
    batch: typeof dims[0] === 'number' ? dims[0] : null,
    size: typeof h === 'number' && typeof w === 'number' ? { height: h, width: w } : null,
  };
}

/** Where one tensor's bytes live in an external-data file. */
export interface ExternalRef {
  /** Path relative to the model's folder, as the model names it. */
  location: string;
  offset: number;
  /** Byte count, or null for "to the end of the file". */
  length: number | null;
}

/** Whether a tensor keeps its data in an external file. */
export function isExternal(tensor: TensorProto): boolean {
  return tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL;
}

/** The external-data reference of a tensor stored outside the model file. */
export function externalRef(tensor: TensorProto, where: string, exitCode: number = ExitCode.usage): ExternalRef {
  const entries = new Map((tensor.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const location = entries.get('location') ?? '';
  const parts = location.split(/[\\/]/);
  if (location === '' || path.isAbsolute(location) || parts.includes('..')) {
    throw new CnnfeatError(`${where}: initializer "${tensor.name}" names external data "${location}", which is not a file beside the model`, exitCode);
  }
  const length = entries.get('length');
  return { location, offset: Number(entries.get('offset') ?? 0), length: length === undefined ? null : Number(length) };
}

/** The external-data file names (relative to the model) a model's initializers use, in order of first use. */
export function externalLocations(proto: ModelProto, where: string, exitCode: number = ExitCode.usage): string[] {
  const locations = (proto.graph?.initializer ?? []).filter(isExternal).map((t) => externalRef(t, where, exitCode).location);
  return [...new Set(locations)];
}

/** Checks that each external-data range exists beside the model; returns the files' absolute paths. */
async function checkExternalData(proto: ModelProto, file: string): Promise<string[]> {
  const dir = path.dirname(file);
  const sizes = new Map<string, number>();
  for (const tensor of (proto.graph?.initializer ?? []).filter(isExternal)) {
    const ref = externalRef(tensor, file);
    const where = path.join(dir, ref.location);
    if (!sizes.has(where)) {
      const stat = await statOrNull(where);
      if (!stat?.isFile()) {
        throw new CnnfeatError(`${file}: its external data file ${ref.location} (initializer "${tensor.name}") is missing; copy it next to the model`);
      }
      sizes.set(where, stat.size);
    }
    const end = ref.offset + (ref.length ?? 0);
    if (end > sizes.get(where)!) {
      throw new CnnfeatError(`${file}: external data file ${ref.location} is truncated (initializer "${tensor.name}" ends at byte ${end}, the file has ${sizes.get(where)}); copy it again`);
    }
  }
  return [...sizes.keys()];
}

/** The files an ONNX model consists of: the .onnx file, then its external-data files. */
export async function onnxModelFiles(file: string): Promise<string[]> {
  const bytes = await fsp.readFile(file);
  const proto = decodeOnnx(bytes, file);
  return [file, ...(await checkExternalData(proto, file))];
}

/**
 * A maker of tensor and node names not in `taken` (nor handed out before): `base`, else `base_1`,
 * `base_2`, …, for nodes added to an existing graph.
 */
export function freshNames(taken: Iterable<string>): (base: string) => string {
  const used = new Set(taken);
  return (base: string) => {
    let name = base;
    for (let k = 1; used.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    return name;
  };
}

/** An INT node attribute (`Cast`'s `to`, an `axis`). */
export function intAttribute(name: string, value: number): InstanceType<typeof onnx.AttributeProto> {
  return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: value });
}
