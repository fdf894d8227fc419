/**
 * The ONNX protobuf classes of `onnx-proto`, loaded when first used: reading or writing a graph
 * needs them, importing a module that can do so (e.g. for `cnnfeat --help`) does not.
 */
import { createRequire } from 'node:module';
import type OnnxProto from 'onnx-proto';

const requireCjs = createRequire(import.meta.url);
let loaded: typeof OnnxProto.onnx | undefined;

/** `onnx-proto`'s `onnx` namespace; its properties load the package on first access. */
export const onnx: typeof OnnxProto.onnx = new Proxy({} as typeof OnnxProto.onnx, {
  get(_, key) {
    loaded ??= (requireCjs('onnx-proto') as typeof OnnxProto).onnx;
    return loaded[key as keyof typeof OnnxProto.onnx];
  },
});
