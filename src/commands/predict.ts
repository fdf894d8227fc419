import type { Command } from 'commander';
import { CnnfeatError } from '../errors.js';
import { positiveInt } from '../util/validate.js';
import type { TtaMode } from '../image/flip.js';
import { addEngineOptions, addBatchOption, addOutputOptions, addTtaOption, engineOptionsFrom, loggerFor, printResult, type EngineFlags } from './options.js';

interface Flags extends EngineFlags {
  json?: boolean;
  quiet?: boolean;
  model?: string;
  topK?: string;
  tta?: TtaMode;
}

/** The flags of `predict`'s own options, for messages (see EXTRACT_FLAGS). */
export const PREDICT_FLAGS = { topK: '--top-k' } as const;

/** `cnnfeat predict <model.json> <image-or-dir>...` */
export function register(program: Command): void {
  const cmd = program
    .command('predict')
    .description('classify images with a trained classifier')
    .argument('<model.json>', 'classifier written by `cnnfeat train`')
    .argument('<image-or-dir...>', 'image files or folders (searched recursively)')
    .option('-m, --model <id|file>', 'the network (card id, model.json or .onnx file), if it moved since training (default: where it was)')
    .option('--top-k <k>', 'list the k best classes of each image, ranked by score (probabilities or decision values, as the classifier gives)');
  addOutputOptions(addBatchOption(addTtaOption(addEngineOptions(cmd), "as the classifier's training features"))).action(async (modelFile: string, inputs: string[], flags: Flags) => {
    const logger = loggerFor(flags);
    const topK = flags.topK === undefined ? undefined : positiveInt('--top-k', flags.topK);
    const engine = engineOptionsFrom(flags);
    const [{ loadClassifier }, { collectImages }, { predictImages }, { scoreMeaning, scoreKindOf }, { formatScore }] = await Promise.all([
      import('../classifiers/model-file.js'),
      import('../dataset/scan.js'),
      import('../pipeline/predict.js'),
      import('../classifiers/classifier.js'),
      import('../classifiers/common/scores.js'),
    ]);
    const classifier = await loadClassifier(modelFile);
    const files = await collectImages(inputs);
    if (files.length === 0) throw new CnnfeatError(`no images found in ${inputs.join(', ')}`);
    const predictions = await predictImages(classifier, files, {
      ...engine,
      model: flags.model,
      logger,
      topK,
      tta: flags.tta,
    });
    const kind = scoreKindOf(classifier.model);
    printResult(flags, predictions, () =>
      [
        `# score: ${scoreMeaning(classifier.model)}`,
        ...predictions.map((p) => {
          if ('error' in p) return `${p.path}\tERROR\t${p.error}`;
          const ranked = p.top ? p.top.map((c) => `${c.label} ${formatScore(c.score, kind)}`) : [`${p.label}\t${formatScore(p.score, kind)}`];
          return `${p.path}\t${ranked.join('\t')}`;
        }),
      ].join('\n'),
    );
    const failed = predictions.filter((p) => 'error' in p).length;
    if (failed > 0) throw new CnnfeatError(`${failed} of ${predictions.length} image(s) could not be decoded (listed above)`);
  });
}
