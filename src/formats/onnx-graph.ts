// A small builder for ONNX graphs: nodes, float/int64 initialisers and the ModelProto bytes; used by
// the Keras exporter, the classifiers' product graphs and the wrapper around users' ONNX models.
import { onnx } from './onnx-proto.js';
import { elementTypeCode } from './onnx-model.js';


/** ONNX operator set the exporter writes (every op used exists there; onnxruntime ≥ 1.8 runs it). */
export const OPSET = 13;
/** IR version matching opset 13. */
const IR_VERSION = 7;

/** Element types of graph inputs and outputs. */
export type ElemType = 'float32' | 'float64' | 'float16' | 'uint8';

/** A node attribute value: numbers are INT unless listed in `floatAttrs`, arrays INTS/FLOATS. */
export type AttrValue = number | number[] | string;

/** One dimension of a graph input/output: a size, or a symbolic name such as `N`. */
export type Dim = number | string;

/** Collects nodes and initialisers with unique names and serialises them to an ONNX model. */
export class GraphBuilder {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private readonly inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly used: Set<string>;

  /** @param reserved names kept for the graph input/output, never handed out by `uniqueName` */
  constructor(reserved: string[] = []) {
    this.used = new Set(reserved);
  }

  /** A name not used yet in the graph, derived from `base`. */
  uniqueName(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_./:-]/g, '_') || 'v';
    let name = clean;
    for (let k = 1; this.used.has(name); k++) name = `${clean}_${k}`;
    this.used.add(name);
    return name;
  }

  /** Declares a graph input (float32 unless `type` says otherwise). */
  addInput(name: string, dims: Dim[], type: ElemType = 'float32'): string {
    this.used.add(name);
    this.inputs.push(valueInfo(name, dims, type));
    return name;
  }

  /** Declares a graph output (the value must be produced under this exact name). */
  addOutput(name: string, dims: Dim[], type: ElemType = 'float32'): void {
    this.outputs.push(valueInfo(name, dims, type));
  }

  /** Adds a float32 constant; returns its (unique) name. */
  addFloats(base: string, data: Float32Array | number[], dims: number[]): string {
    const values = data instanceof Float32Array ? data : Float32Array.from(data);
    const name = this.uniqueName(base);
    this.initializers.push(
      onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytesOf(values) }),
    );
    return name;
  }

  /** Adds an int64 constant (shapes, pads, axes); returns its (unique) name. */
  addInt64s(base: string, data: number[]): string {
    const name = this.uniqueName(base);
    const values = BigInt64Array.from(data.map((v) => BigInt(v)));
    this.initializers.push(
      onnx.TensorProto.create({ name, dims: [data.length], dataType: onnx.TensorProto.DataType.INT64, rawData: bytesOf(values) }),
    );
    return name;
  }

  /**
   * Adds a node computing `op(inputs)` with attributes; returns its output name, `output` when
   * given (e.g. the graph output), else a fresh one derived from `base`. An empty input name
   * stands for an omitted optional input.
   */
  addNode(op: string, inputs: string[], base: string, attrs: Record<string, AttrValue> = {}, opts: { output?: string; floatAttrs?: string[] } = {}): string {
    const output = opts.output ?? this.uniqueName(base);
    if (opts.output) this.used.add(output);
    const attribute = Object.entries(attrs).map(([name, value]) => attributeOf(name, value, opts.floatAttrs?.includes(name) ?? false));
    this.nodes.push(onnx.NodeProto.create({ opType: op, input: inputs, output: [output], name: this.uniqueName(`${base}/${op}`), attribute }));
    return output;
  }

  /** The nodes, initialisers, inputs and outputs added so far, to splice into another graph. */
  parts() {
    return { nodes: [...this.nodes], initializers: [...this.initializers], inputs: [...this.inputs], outputs: [...this.outputs] };
  }

  /** Serialises the graph as an ONNX ModelProto. */
  toBytes(graphName: string, docString: string): Uint8Array {
    const graph = onnx.GraphProto.create({
      name: graphName,
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
    });
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: 'cnnfeat',
      docString,
      graph,
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, dims: Dim[], type: ElemType) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: elementTypeCode(type),
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

function attributeOf(name: string, value: AttrValue, isFloat: boolean) {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(value) });
  if (Array.isArray(value)) {
    return isFloat ? onnx.AttributeProto.create({ name, type: T.FLOATS, floats: value }) : onnx.AttributeProto.create({ name, type: T.INTS, ints: value });
  }
  return isFloat ? onnx.AttributeProto.create({ name, type: T.FLOAT, f: value }) : onnx.AttributeProto.create({ name, type: T.INT, i: value });
}

/** The little-endian bytes of a typed array (every platform Node runs ONNX Runtime on is little-endian). */
function bytesOf(values: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}
