import { Option, type Command } from 'commander';
import { CnnfeatError, ExitCode } from '../errors.js';
import { RESIZE_KERNELS, RESIZE_MODES, type ResizeKernel, type ResizeMode } from '../image/resize.js';
import { ICC_MODES, type IccMode } from '../image/icc.js';
import { PREPROCESS_MODES, type PreprocessMode } from '../image/preprocess.js';
import { ENGINE_CHOICES, POOLS, PRECISIONS, type EngineChoice, type PoolMode, type Precision } from '../engines/engine.js';
import { parseDevice } from '../engines/device/choice.js';
import type { ExtractOptions } from '../pipeline/extract.js';
import { createLogger, type Logger } from '../util/log.js';
import { finiteNumber, nonNegativeInt, positiveInt } from '../util/validate.js';
import { AUGMENT_MODES, TTA_MODES, type AugmentMode, type TtaMode } from '../image/flip.js';
import { watchNpmLauncher } from '../util/launcher.js';
import { EXTRACT_DEFAULTS } from '../pipeline/setup/defaults.js';

/** Raw values of the engine options (`addEngineOptions`, `addBatchOption`) as commander parses them. */
export interface EngineFlags {
  batchSize?: string;
  engine?: EngineChoice;
  threads?: string;
  decoders?: string;
  device?: string;
}

/** Raw values of the shared extract options as commander parses them. */
export interface ExtractFlags extends EngineFlags {
  model?: string;
  layer?: string;
  input?: string;
  preprocess?: PreprocessMode;
  resize?: ResizeMode;
  cropFraction?: string;
  resizeKernel?: ResizeKernel;
  icc?: IccMode;
  tta?: TtaMode;
  augment?: AugmentMode;
  pool?: PoolMode;
  precision?: Precision;
  strict?: boolean;
  resume?: boolean;
  overwrite?: boolean;
}

/**
 * The flag of each extraction option, for messages: the library names its options (`cropFraction`),
 * the CLI its flags (`--crop-fraction`), see `nameOptionsByFlag`.
 */
export const EXTRACT_FLAGS = {
  model: '--model',
  layer: '--layer',
  input: '--input',
  pool: '--pool',
  preprocess: '--preprocess',
  resize: '--resize',
  cropFraction: '--crop-fraction',
  resizeKernel: '--resize-kernel',
  icc: '--icc',
  precision: '--precision',
  tta: '--tta',
  augment: '--augment',
  engine: '--engine',
  device: '--device',
  threads: '--threads',
  decoders: '--decoders',
  batchSize: '--batch-size',
  strict: '--strict',
  resume: '--resume',
  overwrite: '--overwrite',
} as const satisfies Partial<Record<keyof ExtractOptions, string>>;

/**
 * An option whose default the library applies: commander leaves it undefined when not given,
 * and the help text shows the library's default.
 */
function libraryDefault(flags: string, description: string, value: string | number): Option {
  return new Option(flags, `${description} (default: ${value})`);
}

/** Adds the options that choose the network and how images are fed to it. */
function addModelOptions(cmd: Command): Command {
  cmd
    .addOption(libraryDefault('-m, --model <id|file|url>', 'model card id, path to a TensorFlow.js model.json (LayersModel or GraphModel) or an .onnx file, or the http(s) URL of either', EXTRACT_DEFAULTS.model))
    .option('--layer <names>', "layer(s) or ONNX tensor(s) to cut at, comma-separated and concatenated (default: the card's feature layer, else the input of the last Dense/Gemm/MatMul)")
    .option('--input <HxW>', "input size for a model that leaves it open (default: the card's, else 224x224)")
    .addOption(libraryDefault('--pool <mode>', 'how a spatial layer output becomes a vector', EXTRACT_DEFAULTS.pool).choices(POOLS))
    .addOption(new Option('--preprocess <mode>', "input normalisation (default: the card's)").choices(PREPROCESS_MODES))
    .addOption(new Option('--resize <mode>', `how images are fitted to the input (default: the model card's, else ${EXTRACT_DEFAULTS.resize})`).choices(RESIZE_MODES))
    .option('--crop-fraction <f>', `center-crop: share of the scaled image kept, in (0, 1]; 0.875 = Resize(256) + CenterCrop(224) (default: the model card's, else ${EXTRACT_DEFAULTS.cropFraction})`)
    .addOption(libraryDefault('--resize-kernel <kernel>', 'interpolation kernel', EXTRACT_DEFAULTS.resizeKernel).choices(RESIZE_KERNELS))
    .addOption(libraryDefault('--icc <mode>', 'embedded ICC colour profiles: ignore them (as PIL, Keras and torchvision) or apply them (convert to sRGB)', EXTRACT_DEFAULTS.icc).choices(ICC_MODES))
    .addOption(libraryDefault('--precision <p>', "the network's computation; fp16 halves GPU work, features within cosine 0.999 of fp32 (never mixed with fp32 rows in one feature folder)", EXTRACT_DEFAULTS.precision).choices(PRECISIONS));
  return addEngineOptions(addTtaOption(cmd, `${EXTRACT_DEFAULTS.tta}`));
}

/** Adds `--tta` (test-time augmentation); `fallback` is what the help names as its default. */
export function addTtaOption(cmd: Command, fallback: string): Command {
  return cmd.addOption(new Option('--tta <mode>', `test-time augmentation: flip = each row is the mean of the features of the image and its mirror, run in the same batch (default: ${fallback})`).choices(TTA_MODES));
}

/** Adds `--engine`, `--device`, `--threads` and `--decoders`. */
export function addEngineOptions(cmd: Command): Command {
  return cmd
    .addOption(libraryDefault('--engine <name>', 'inference engine (auto: onnx when the model exports, else tfjs)', EXTRACT_DEFAULTS.engine).choices(ENGINE_CHOICES))
    .addOption(libraryDefault('--device <name>', 'where the onnx engine runs: auto (a GPU when one works and is faster, else the CPU), cpu, gpu, webgpu, cuda or cuda:N', EXTRACT_DEFAULTS.device))
    .option('--threads <n>', 'inference threads (default: all cores on the CPU, 1 beside a GPU)')
    .option('--decoders <n>', 'decoder processes; 0 decodes in the main process (default: one per 8 cores on the CPU, one per core beside a GPU; see docs/extraction.md)');
}


/** Adds `-b, --batch-size`. */
export function addBatchOption(cmd: Command): Command {
  return cmd.option('-b, --batch-size <n>', `images per forward pass (default: ${EXTRACT_DEFAULTS.batchSize} on the CPU; on a GPU 32 in fp32, 64 in fp16)`);
}

/** Adds the options of a feature extraction run (batching, error policy, restart policy). */
export function addExtractOptions(cmd: Command): Command {
  return addBatchOption(addModelOptions(cmd))
    .addOption(libraryDefault('--augment <mode>', 'flip = each image also gives a row of its mirror (samples.csv column view; run: training images only); folds keep the two together', EXTRACT_DEFAULTS.augment).choices(AUGMENT_MODES))
    .option('--strict', 'fail at the first image that cannot be decoded instead of skipping it')
    .option('--resume', 'continue an interrupted extraction in the output directory')
    .option('--overwrite', 'replace features already in the output directory');
}

/** Adds `--json` and `--quiet`. */
export function addOutputOptions(cmd: Command): Command {
  return cmd.option('--json', 'print one JSON object on stdout').option('-q, --quiet', 'no progress or info on stderr');
}

/** Maps the engine flags to library options (undefined: the library's default). */
export function engineOptionsFrom(flags: EngineFlags): Pick<ExtractOptions, 'batchSize' | 'engine' | 'threads' | 'decoders' | 'device'> {
  return {
    batchSize: flags.batchSize === undefined ? undefined : positiveInt('--batch-size', flags.batchSize),
    engine: flags.engine,
    threads: flags.threads === undefined ? undefined : positiveInt('--threads', flags.threads),
    decoders: flags.decoders === undefined ? undefined : nonNegativeInt('--decoders', flags.decoders),
    device: flags.device === undefined ? undefined : parseDevice(flags.device),
  };
}

/** Maps parsed flags to library options. */
export function extractOptionsFrom(flags: ExtractFlags, logger: Logger, signal?: AbortSignal): ExtractOptions {
  return {
    ...engineOptionsFrom(flags),
    model: flags.model,
    layer: flags.layer,
    input: flags.input === undefined ? undefined : parseInputSize(flags.input),
    preprocess: flags.preprocess,
    resize: flags.resize,
    cropFraction: flags.cropFraction === undefined ? undefined : finiteNumber('--crop-fraction', flags.cropFraction),
    resizeKernel: flags.resizeKernel,
    icc: flags.icc,
    tta: flags.tta,
    augment: flags.augment,
    pool: flags.pool,
    precision: flags.precision,
    strict: flags.strict,
    resume: flags.resume,
    overwrite: flags.overwrite,
    logger,
    signal,
  };
}

/** Parses `--input HxW`. */
export function parseInputSize(value: string): { height: number; width: number } {
  const match = /^(\d+)x(\d+)$/i.exec(value.trim());
  if (!match) throw new CnnfeatError(`--input must be HxW (e.g. 224x224), got "${value}"`);
  return { height: positiveInt('--input height', match[1]!), width: positiveInt('--input width', match[2]!) };
}

/** The stderr logger for a command's `--quiet` flag. */
export function loggerFor(flags: { quiet?: boolean }): Logger {
  return createLogger({ quiet: flags.quiet });
}

/** Prints a result on stdout: JSON when asked, else the text. */
export function printResult(flags: { json?: boolean }, value: unknown, text: () => string): void {
  process.stdout.write(flags.json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}

/** Graceful interruption of a long extraction by SIGINT/SIGTERM. */
export interface Interrupts {
  /** Fired by the first signal; the extraction stops after checkpointing the current batch. */
  signal: AbortSignal;
  /** Removes the handlers: from then on a signal ends the process at once, as usual. */
  release(): void;
}

/** What is said when npm, which started cnnfeat, ended (see `watchNpmLauncher`). */
const LAUNCHER_GONE = 'the npm process that started cnnfeat has ended (npm passes no SIGTERM on)';

/**
 * Installs SIGINT/SIGTERM handlers for an extraction: the first signal asks it to stop at the
 * next checkpoint, a second one exits at once (the output stays resumable from the last
 * checkpoint either way). The end of the npm process that started cnnfeat counts as a SIGTERM.
 */
export function handleInterrupts(logger: Logger): Interrupts {
  const controller = new AbortController();
  // Never the "second signal": a SIGTERM sent to every process of a job also ends npm.
  const unwatch = watchNpmLauncher(() => {
    if (controller.signal.aborted) return;
    logger.warn(`${LAUNCHER_GONE}: stopping after the current batch, as for SIGTERM`);
    controller.abort(ExitCode.terminated);
  });
  const onSignal = (sig: NodeJS.Signals) => {
    const code = sig === 'SIGTERM' ? ExitCode.terminated : ExitCode.interrupted;
    if (controller.signal.aborted) {
      if (process.stderr.isTTY) process.stderr.write('\x1b[?25h\n');
      process.exit(code);
    }
    logger.warn(`${sig}: stopping after the current batch (again to stop now)`);
    controller.abort(code);
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    release() {
      unwatch();
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    },
  };
}

/** A section during which SIGINT/SIGTERM stop the process at once (see {@link exitOnSignal}). */
export interface SignalExit {
  /**
   * Runs `fn` (writing a result) without being cut: a signal during it exits after it.
   * @param written what a signal after `fn` says instead (the result is then on disk)
   */
  finishing<T>(fn: () => Promise<T>, written?: string): Promise<T>;
  release(): void;
}

/**
 * While training: SIGINT/SIGTERM exit at once with 130/143 (a fit holds nothing worth
 * finishing), saying `what` (that no classifier was written); during {@link SignalExit.finishing}
 * (the atomic write of the classifier file) the exit waits until the write is done or undone,
 * and then says which. The end of the npm process that started cnnfeat counts as a SIGTERM.
 */
export function exitOnSignal(logger: Logger, what = 'no classifier file was written'): SignalExit {
  let busy = false;
  let pending: { reason: string; code: number } | undefined;
  const stop = ({ reason, code }: { reason: string; code: number }): never => {
    if (process.stderr.isTTY) process.stderr.write('\x1b[?25h\n');
    logger.warn(`${reason}: stopped; ${what}`);
    process.exit(code);
  };
  const onStop = (why: { reason: string; code: number }) => {
    if (busy) pending ??= why;
    else stop(why);
  };
  const onSignal = (sig: NodeJS.Signals) => onStop({ reason: sig, code: sig === 'SIGTERM' ? ExitCode.terminated : ExitCode.interrupted });
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  const unwatch = watchNpmLauncher(() => onStop({ reason: LAUNCHER_GONE, code: ExitCode.terminated }));
  const release = () => {
    unwatch();
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  };
  return {
    async finishing(fn, written) {
      busy = true;
      try {
        const result = await fn();
        if (written !== undefined) what = written;
        return result;
      } finally {
        busy = false;
        if (pending !== undefined) stop(pending);
      }
    },
    release,
  };
}
