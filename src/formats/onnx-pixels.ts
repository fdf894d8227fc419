/**
 * The pixel input of an engine graph: raw uint8 RGB pixels [N, H, W, 3] in, normalised inside the
 * graph before the graph's float32 `input`. Moving the normalisation into the graph takes the
 * per-pixel loop off the JavaScript thread (onto the engine's) and hands the engine 1 byte per
 * value instead of 4. The affine map runs on channel planes (NCHW: Cast, Transpose, Gather for a
 * channel swap, Mul, Add, Transpose back): onnxruntime's broadcast of a 3-vector over the last
 * axis of NHWC was measured 3× slower than JavaScript's loop, over planes as fast; the Transpose
 * back cancels against the NHWC→NCHW Transpose the engine graphs start with (onnxruntime's
 * transpose optimizer removes the pair).
 */
import { onnx } from './onnx-proto.js';
import { freshNames, intAttribute, type ModelProto, type NodeProto, type TensorProto } from './onnx-model.js';

/** Per-channel affine normalisation: output c = pixel[channels[c]] · scale[c] + shift[c]. */
export interface ChannelAffine {
  channels: readonly number[];
  scale: readonly number[];
  shift: readonly number[];
}

/**
 * `model` (one float32 NHWC input named `inputName`) with a uint8 input of the same name and shape
 * in its place, normalised by `affine` inside the graph.
 */
export function withPixelInput(model: ModelProto, affine: ChannelAffine, inputName = 'input'): ModelProto {
  const graph = model.graph!;
  const declared = (graph.input ?? []).find((i) => i.name === inputName);
  if (!declared?.type?.tensorType) throw new Error(`the graph has no tensor input "${inputName}"`);
  const fresh = freshNames([...(graph.node ?? []).flatMap((n) => [...(n.input ?? []), ...(n.output ?? []), n.name ?? '']), ...(graph.initializer ?? []).map((t) => t.name ?? '')]);
  const normalised = fresh('cnnfeat/pixels/normalised');
  const nodes: NodeProto[] = [];
  const initializers: TensorProto[] = [];
  const add = (op: string, inputs: string[], output: string, attribute: NodeProto['attribute'] = []) => {
    nodes.push(onnx.NodeProto.create({ opType: op, name: fresh(`cnnfeat/pixels/${op}`), input: inputs, output: [output], attribute }));
    return output;
  };
  const constant = (base: string, dataType: number, values: number[], dims: number[]) => {
    const name = fresh(`cnnfeat/pixels/${base}`);
    const data = dataType === onnx.TensorProto.DataType.INT64 ? BigInt64Array.from(values.map(BigInt)) : Float32Array.from(values);
    initializers.push(onnx.TensorProto.create({ name, dims, dataType, rawData: new Uint8Array(data.buffer) }));
    return name;
  };
  const ints = (name: string, values: number[]) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: values });
  const planes = [1, 3, 1, 1];
  let x = add('Cast', [inputName], fresh('cnnfeat/pixels/float'), [intAttribute('to', onnx.TensorProto.DataType.FLOAT)]);
  x = add('Transpose', [x], fresh('cnnfeat/pixels/nchw'), [ints('perm', [0, 3, 1, 2])]);
  if (affine.channels.some((c, i) => c !== i)) {
    const indices = constant('channels', onnx.TensorProto.DataType.INT64, [...affine.channels], [3]);
    x = add('Gather', [x, indices], fresh('cnnfeat/pixels/channels'), [intAttribute('axis', 1)]);
  }
  if (affine.scale.some((s) => s !== 1)) x = add('Mul', [x, constant('scale', onnx.TensorProto.DataType.FLOAT, [...affine.scale], planes)], fresh('cnnfeat/pixels/scaled'));
  if (affine.shift.some((s) => s !== 0)) x = add('Add', [x, constant('shift', onnx.TensorProto.DataType.FLOAT, [...affine.shift], planes)], fresh('cnnfeat/pixels/shifted'));
  add('Transpose', [x], normalised, [ints('perm', [0, 2, 3, 1])]);
  const rename = (name: string) => (name === inputName ? normalised : name);
  const body = (graph.node ?? []).map((n) => onnx.NodeProto.create({ ...n, input: (n.input ?? []).map(rename) }));
  const pixelInput = onnx.ValueInfoProto.create({
    ...declared,
    type: { tensorType: { ...declared.type.tensorType, elemType: onnx.TensorProto.DataType.UINT8 } },
  });
  const outputs = (graph.output ?? []).map((o) => (o.name === inputName ? onnx.ValueInfoProto.create({ ...o, name: normalised }) : o));
  return onnx.ModelProto.create({
    ...model,
    graph: onnx.GraphProto.create({
      ...graph,
      node: [...nodes, ...body],
      initializer: [...(graph.initializer ?? []), ...initializers],
      input: (graph.input ?? []).map((i) => (i.name === inputName ? pixelInput : i)),
      output: outputs,
    }),
  });
}
