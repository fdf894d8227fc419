/**
 * Child process of `probeWebGpu`: starts the WebGPU provider on a one-node graph, runs it once and
 * prints one JSON line. A separate process, so that what Dawn and the Vulkan drivers print on
 * stderr can be counted instead of reaching the user's terminal.
 */
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../formats/onnx-graph.js';
import { threadNames } from '../../util/thread-times.js';
import { softwareRasterizerRuns } from './facts.js';

const graph = new GraphBuilder(['input', 'output']);
graph.addInput('input', [1, 4]);
graph.addNode('Relu', ['input'], 'relu', {}, { output: 'output' });
graph.addOutput('output', [1, 4]);
const started = performance.now();
try {
  const session = await ort.InferenceSession.create(graph.toBytes('probe', 'cnnfeat WebGPU probe'), { executionProviders: ['webgpu'], logSeverityLevel: 3 });
  const { output } = await session.run({ input: new ort.Tensor('float32', Float32Array.from([-1, 2, -3, 4]), [1, 4]) });
  const ok = Array.from(output!.data as Float32Array).join() === '0,2,0,4';
  const rasterizerThreads = softwareRasterizerRuns(threadNames());
  await session.release();
  process.stdout.write(`${JSON.stringify({ ok, error: ok ? null : 'wrong result', rasterizerThreads, ms: performance.now() - started })}\n`);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ ok: false, error: String((err as Error)?.message ?? err), rasterizerThreads: false, ms: performance.now() - started })}\n`);
}
