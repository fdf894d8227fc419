import { Option, type Command } from 'commander';
import { PREPROCESS_MODES, type PreprocessMode } from '../image/preprocess.js';
import { RESIZE_MODES, type ResizeMode } from '../image/resize.js';
import { describeSource, listCards } from '../models/card.js';
import { EXTRACT_DEFAULTS } from '../pipeline/setup/defaults.js';
import { finiteNumber, positiveInt } from '../util/validate.js';
import { addOutputOptions, loggerFor, parseInputSize, printResult } from './options.js';

interface Flags {
  json?: boolean;
  quiet?: boolean;
  force?: boolean;
}

interface AddFlags extends Flags {
  preprocess: PreprocessMode;
  layer?: string;
  dim?: string;
  title?: string;
  input?: string;
  resize?: ResizeMode;
  cropFraction?: string;
}

/** `cnnfeat models list | pull <id|url> | path <id|url> | add <id> <model.json|url>` */
export function register(program: Command): void {
  const models = program.command('models').description('list, download, locate and add models');

  addOutputOptions(models.command('list').description('list the model cards (built-in and user) and whether each is downloaded')).action(async (flags: Flags) => {
    const { installedModel } = await import('../models/download.js');
    const rows = await Promise.all(
      (await listCards()).map(async (card) => ({
        id: card.id,
        title: card.title,
        dim: card.dim,
        layer: card.featureLayer,
        preprocess: card.preprocess,
        format: card.format,
        source: describeSource(card.source),
        user: card.user === true,
        installed: card.source.type === 'local' ? card.source.path : ((await installedModel(card))?.dir ?? null),
      })),
    );
    printResult(flags, rows, () =>
      rows
        .map((r) => {
          const state = r.user && r.installed === r.source ? 'local' : r.installed ? 'downloaded' : 'not downloaded';
          return `${r.id}\t${r.dim}-d @ ${r.layer}\t${state}\t${r.user ? 'user' : 'built-in'}\t${r.title}`;
        })
        .join('\n'),
    );
  });

  addOutputOptions(models.command('pull').description('download and verify a model (card id, or URL of a model.json or .onnx file) into the cache').argument('<id|url>'))
    .option('--force', 'download again even when a verified copy is cached')
    .action(async (spec: string, flags: Flags) => {
      const { fetchModel } = await import('../models/resolve.js');
      const got = await fetchModel(spec, { force: flags.force, logger: loggerFor(flags) });
      printResult(flags, got, () => got.dir);
    });

  addOutputOptions(
    models.command('path').description("print the folder holding a model's model.json or .onnx file (downloading it if needed)").argument('<id|url>'),
  ).action(async (spec: string, flags: Flags) => {
    const { fetchModel } = await import('../models/resolve.js');
    const got = await fetchModel(spec, { logger: loggerFor(flags) });
    printResult(flags, got, () => got.dir);
  });

  addOutputOptions(
    models
      .command('add')
      .description('write a user model card into the cache, so the model can be used (and shared) by id')
      .argument('<id>', 'new model id (letters, digits, ".", "_", "-")')
      .argument('<model>', 'path to a TensorFlow.js model.json (LayersModel or GraphModel) or an .onnx file, or the http(s) URL of either'),
  )
    .addOption(new Option('--preprocess <mode>', 'input normalisation of the model').choices(PREPROCESS_MODES).makeOptionMandatory())
    .option('--layer <names>', 'layer(s), graph node(s) or ONNX tensor(s) to cut at, comma-separated (default: the model\'s default feature layer)')
    .option('--dim <n>', 'expected feature length (checked)')
    .option('--title <text>', 'one-line description')
    .option('--input <HxW>', 'input size, for a graph whose input size is open (ONNX default 224x224)')
    .addOption(new Option('--resize <mode>', `how images are fitted for this model by default, as it is evaluated (default: ${EXTRACT_DEFAULTS.resize})`).choices(RESIZE_MODES))
    .option('--crop-fraction <f>', `with center-crop: the share kept by default, e.g. timm's crop_pct (0.875 = Resize(256) + CenterCrop(224); default ${EXTRACT_DEFAULTS.cropFraction})`)
    .option('--force', 'replace an existing user card with this id')
    .action(async (id: string, model: string, flags: AddFlags) => {
      const { addUserCard } = await import('../pipeline/add-model.js');
      const { card, file } = await addUserCard({
        id,
        model,
        preprocess: flags.preprocess,
        layer: flags.layer,
        dim: flags.dim === undefined ? undefined : positiveInt('--dim', flags.dim),
        title: flags.title,
        input: flags.input === undefined ? undefined : parseInputSize(flags.input),
        resize: flags.resize,
        cropFraction: flags.cropFraction === undefined ? undefined : finiteNumber('--crop-fraction', flags.cropFraction),
        force: flags.force,
        logger: loggerFor(flags),
      });
      const layout = card.layout ? `, ${card.layout} ${card.input.height}x${card.input.width}` : '';
      printResult(flags, { ...card, file }, () => `${card.id}: ${card.dim}-d @ ${card.featureLayer} (${card.format} model${layout}) -> ${file}`);
    });
}
