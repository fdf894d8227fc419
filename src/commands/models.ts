import path from 'node:path';
import type { Command } from 'commander';
import { CnnfeatError } from '../errors.js';
import { findCard, listCards, type ModelCard } from '../models/card.js';
import { installedModel, pullModel } from '../models/download.js';
import { addOutputOptions, loggerFor, printResult } from './options.js';

interface Flags {
  json?: boolean;
  quiet?: boolean;
  force?: boolean;
}

async function cardOrFail(id: string): Promise<ModelCard> {
  const card = await findCard(id);
  if (!card) {
    const ids = (await listCards()).map((c) => c.id).join(', ');
    throw new CnnfeatError(`unknown model "${id}"; known models: ${ids}`);
  }
  return card;
}

/** `cnnfeat models list | pull <id> | path <id>` */
export function register(program: Command): void {
  const models = program.command('models').description('list, download and locate pretrained models');

  addOutputOptions(models.command('list').description('list the model cards and whether each is downloaded')).action(async (flags: Flags) => {
    const rows = await Promise.all(
      (await listCards()).map(async (card) => ({
        id: card.id,
        title: card.title,
        dim: card.dim,
        layer: card.featureLayer,
        preprocess: card.preprocess,
        source: card.source.spec,
        installed: (await installedModel(card))?.dir ?? null,
      })),
    );
    printResult(flags, rows, () =>
      rows.map((r) => `${r.id}\t${r.dim}-d @ ${r.layer}\t${r.installed ? 'downloaded' : 'not downloaded'}\t${r.title}`).join('\n'),
    );
  });

  addOutputOptions(models.command('pull').description('download and verify a model into the cache').argument('<id>'))
    .option('--force', 'download again even when a verified copy is cached')
    .action(async (id: string, flags: Flags) => {
      const installed = await pullModel(await cardOrFail(id), { force: flags.force, logger: loggerFor(flags) });
      printResult(flags, { id, dir: installed.dir, weightsDigest: installed.record.weightsDigest }, () => installed.dir);
    });

  addOutputOptions(models.command('path').description("print the folder holding a model's model.json (downloading it if needed)").argument('<id>')).action(
    async (id: string, flags: Flags) => {
      const installed = await pullModel(await cardOrFail(id), { logger: loggerFor(flags) });
      printResult(flags, { id, dir: installed.dir, modelJson: path.join(installed.dir, 'model.json') }, () => installed.dir);
    },
  );
}
