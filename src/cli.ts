import { Command, CommanderError } from 'commander';
import { CnnfeatError, ExitCode, nameOptionsByFlag } from './errors.js';
import { fromSystemError } from './util/fs.js';
import { TOOL_VERSION } from './version.js';
import * as evalCommand from './commands/eval.js';
import * as extractCommand from './commands/extract.js';
import * as infoCommand from './commands/info.js';
import * as layersCommand from './commands/layers.js';
import * as mergeCommand from './commands/merge.js';
import * as modelsCommand from './commands/models.js';
import * as predictCommand from './commands/predict.js';
import * as runCommand from './commands/run.js';
import * as trainCommand from './commands/train.js';
import { EXTRACT_FLAGS } from './commands/options.js';
import { TRAIN_FLAGS } from './commands/train-options.js';

const COMMANDS = [extractCommand, mergeCommand, trainCommand, evalCommand, predictCommand, runCommand, modelsCommand, layersCommand, infoCommand];

/** The CLI's flag of each library option, by which library messages name the option under the CLI (see `optionName`). */
export const CLI_OPTION_FLAGS = {
  ...EXTRACT_FLAGS,
  ...extractCommand.EXTRACT_COMMAND_FLAGS,
  ...predictCommand.PREDICT_FLAGS,
  ...TRAIN_FLAGS,
  ...runCommand.RUN_FLAGS,
} as const;

/** Builds the commander program with every command registered. */
export function buildProgram(): Command {
  const program = new Command('cnnfeat')
    .description('CNN features from folders of labelled images, and SVM classifiers on them')
    .version(TOOL_VERSION)
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      outputError: (s, write) => write(`cnnfeat: ${s.trim().replace(/^error: /, '').replace(/\s*\n\s*/g, ' ')} (see --help)\n`),
    });
  for (const command of COMMANDS) command.register(program);
  const configure = (cmd: Command) => {
    cmd.exitOverride().configureOutput(program.configureOutput());
    cmd.commands.forEach(configure);
  };
  program.commands.forEach(configure);
  return program;
}

/**
 * Runs the CLI and resolves to the process exit code. Errors the user can act on print as one
 * line (`cnnfeat: <message>`); anything else is a bug and prints its stack.
 */
export async function main(argv: string[]): Promise<number> {
  nameOptionsByFlag(CLI_OPTION_FLAGS);
  try {
    await buildProgram().parseAsync(argv);
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    const known = err instanceof CnnfeatError ? err : fromSystemError(err);
    if (known) {
      process.stderr.write(`cnnfeat: ${known.message.replace(/\s*\n\s*/g, ' ')}\n`);
      return known.exitCode;
    }
    process.stderr.write(`cnnfeat: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return ExitCode.internal;
  }
}
