import type { Command } from 'commander';
import type { ResolvedModel } from '../models/resolve.js';
import { addOutputOptions, loggerFor, printResult } from './options.js';

type Flags = { json?: boolean; quiet?: boolean };

const shapeText = (shape: (number | null)[] | null) => (shape ? `[${shape.map((d) => d ?? 'N').join(', ')}]` : '[?]');

/** `cnnfeat layers <model>` */
export function register(program: Command): void {
  const cmd = program
    .command('layers')
    .description('list the layers (LayersModel) or graph nodes (GraphModel) of a model, names to pass to --layer, with their output shapes')
    .argument('<model>', 'model card id, http(s) URL or path to a TensorFlow.js model.json');
  addOutputOptions(cmd).action(async (spec: string, flags: Flags) => {
    const { resolveModel } = await import('../models/resolve.js');
    const model = await resolveModel(spec, loggerFor(flags));
    if (model.format === 'graph') return printGraphNodes(model, flags);
    const { listLayers } = await import('../engines/tfjs.js');
    const { layers, defaultLayer } = await listLayers(model.modelJson);
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

/** Lists a GraphModel's nodes (weights left out), marking global pooling outputs and the default cut. */
async function printGraphNodes(model: ResolvedModel, flags: Flags): Promise<void> {
  const { listGraphNodes } = await import('../engines/tfjs-graph.js');
  const { nodes, defaultNode } = await listGraphNodes(model.modelJson, { input: model.input });
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
