import { isOnnxPath } from './onnx-model.js';
import { readModelJson, type TfjsFormat } from './tfjs-model.js';

/** The formats a model file can have: a TensorFlow.js LayersModel or GraphModel (model.json), or ONNX. */
export type ModelFormat = TfjsFormat | 'onnx';

/** The format of a model file: `onnx` for a `.onnx` file, else what its model.json says. */
export async function modelFormatOf(modelFile: string): Promise<ModelFormat> {
  return isOnnxPath(modelFile) ? 'onnx' : (await readModelJson(modelFile)).format;
}
