import type { Command } from 'commander';
import { listLayers } from '../engines/tfjs.js';
import { resolveModel } from '../models/resolve.js';
import { addOutputOptions, loggerFor, printResult } from './options.js';

/** `cnnfeat layers <model>` */
export function register(program: Command): void {
  const cmd = program
    .command('layers')
    .description('list the layers of a model (names to pass to --layer) with their output shapes')
    .argument('<model>', 'model card id or path to a TensorFlow.js LayersModel model.json');
  addOutputOptions(cmd).action(async (spec: string, flags: { json?: boolean; quiet?: boolean }) => {
    const model = await resolveModel(spec, loggerFor(flags));
    const { layers, defaultLayer } = await listLayers(model.modelJson);
    const cutAt = model.featureLayer ?? defaultLayer;
    const width = Math.max(...layers.map((l) => l.name.length));
    printResult(flags, layers.map((l) => ({ ...l, default: l.name === cutAt })), () =>
      layers
        .map((l) => {
          const mark = l.name === cutAt ? '  <- default feature layer' : '';
          return `${l.name.padEnd(width)}  ${l.className.padEnd(22)} [${l.outputShape.map((d) => d ?? 'N').join(', ')}]${mark}`;
        })
        .join('\n'),
    );
  });
}
