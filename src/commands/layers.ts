import type { Command } from 'commander';
import type { ResolvedModel } from '../models/resolve.js';
import { addOutputOptions, loggerFor, parseInputSize, printResult } from './options.js';

type Flags = { json?: boolean; quiet?: boolean; input?: string };

const shapeText = (shape: (number | string | null)[] | null) => (shape ? `[${shape.map((d) => d ?? 'N').join(', ')}]` : '[?]');

/** `cnnfeat layers <model>` */
export function register(program: Command): void {
  const cmd = program
    .command('layers')
    .description('list the layers (LayersModel), graph nodes (GraphModel) or tensors (ONNX) of a model, names to pass to --layer, with their output shapes')
    .argument('<model>', 'model card id, http(s) URL or path to a TensorFlow.js model.json or an .onnx file')
    .option('--input <HxW>', 'input size to compute the shapes for, when the model leaves it open (default: the card\'s, else 224x224)');
  addOutputOptions(cmd).action(async (spec: string, flags: Flags) => {
    const { resolveModel } = await import('../models/resolve.js');
    const logger = loggerFor(flags);
    const model = await resolveModel(spec, logger);
    const input = flags.input === undefined ? model.input : parseInputSize(flags.input);
    if (model.format === 'graph') return printGraphNodes(model, input, flags);
    if (model.format === 'onnx') return printOnnxTensors(model, input, flags, logger);
    const { listLayers } = await import('../engines/tfjs.js');
    const { layers, defaultLayer } = await listLayers(model.modelFile);
    const cutAt = new Set((model.featureLayer ?? defaultLayer ?? '').split(','));
    const width = Math.max(...layers.map((l) => l.name.length));
    printResult(flags, layers.map((l) => ({ ...l, default: cutAt.has(l.name) })), () =>
      layers
        .map((l) => {
          const mark = cutAt.has(l.name) ? '  <- default feature layer' : '';
          return `${l.name.padEnd(width)}  ${l.className.padEnd(22)} ${shapeText(l.outputShape)}${mark}`;
        })
        .join('\n'),
    );
  });
}

type Size = { height: number; width: number } | undefined;

/** Lists a GraphModel's nodes (weights left out), marking global pooling outputs and the default cut. */
async function printGraphNodes(model: ResolvedModel, input: Size, flags: Flags): Promise<void> {
  const { listGraphNodes } = await import('../engines/tfjs-graph.js');
  const { nodes, defaultNode } = await listGraphNodes(model.modelFile, { input });
  const cutAt = new Set((model.featureLayer ?? defaultNode ?? '').split(','));
  const width = Math.max(...nodes.map((n) => n.name.length));
  printResult(flags, nodes.map((n) => ({ ...n, default: cutAt.has(n.name) })), () =>
    nodes
      .map((n) => {
        const mark = cutAt.has(n.name) ? '  <- default feature node' : n.feature ? '  <- global pooling (feature vector)' : '';
        return `${n.name.padEnd(width)}  ${n.op.padEnd(16)} ${shapeText(n.outputShape)}${mark}`;
      })
      .join('\n'),
  );
}

/** Lists an ONNX model's float tensors computed from the image, marking the likely feature tensors and the default cut. */
async function printOnnxTensors(model: ResolvedModel, input: Size, flags: Flags, logger: ReturnType<typeof loggerFor>): Promise<void> {
  const { listOnnxTensors, describeInput } = await import('../engines/onnx/user-graph.js');
  const listing = await listOnnxTensors(model.modelFile, { input, logger });
  const cutAt = new Set((model.featureLayer ?? listing.defaultCut ?? '').split(','));
  const { height, width: w } = listing.size;
  logger.info(`${model.modelFile}: input ${describeInput(listing.input)}, opset ${listing.opset}; shapes for ${height}x${w} (${listing.shapesFrom})`);
  const width = Math.max(...listing.tensors.map((t) => t.name.length));
  printResult(flags, listing.tensors.map((t) => ({ ...t, default: cutAt.has(t.name) })), () =>
    listing.tensors
      .map((t) => {
        const mark = cutAt.has(t.name) ? `  <- default cut${t.feature ? ` (${t.feature})` : ''}` : t.feature ? `  <- ${t.feature}` : '';
        return `${t.name.padEnd(width)}  ${t.op.padEnd(18)} ${shapeText(t.outputShape)}${mark}`;
      })
      .join('\n'),
  );
}
