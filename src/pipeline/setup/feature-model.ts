import { CnnfeatError } from '../../errors.js';
import type { ResizeKernel, ResizeMode } from '../../image/resize.js';
import type { IccMode } from '../../image/icc.js';
import { AUGMENT_MODES, TTA_MODES, type AugmentMode, type TtaMode } from '../../image/flip.js';
import { checkFitting } from '../../models/card.js';
import { PREPROCESS_MODES, type PreprocessMode } from '../../image/preprocess.js';
import type { EngineChoice, FeatureExtractor, PoolMode, Precision } from '../../engines/engine.js';
import { parseDevice, type DeviceRequest } from '../../engines/device/choice.js';
import { loadEngine } from '../../engines/select.js';
import { resolveModel, type ResolvedModel } from '../../models/resolve.js';
import type { ExtractSettings } from '../../features/schema.js';
import type { Logger } from '../../util/log.js';
import { silentLogger } from '../../util/log.js';
import { EXTRACT_DEFAULTS } from './defaults.js';
import { cutNamesOf, readModelJson } from '../../formats/tfjs-model.js';
import { unknownCutError } from '../../util/names.js';

/** Default model id. */
export const DEFAULT_MODEL = EXTRACT_DEFAULTS.model;

/** Options choosing the network, its cut and its input handling. */
export interface FeatureModelOptions {
  /**
   * Card id, path to a TensorFlow.js model.json or an .onnx file (or their folder), or the http(s)
   * URL of either (default `resnet50`).
   */
  model?: string;
  /**
   * Layer(s), graph node(s) or ONNX tensor(s) to cut at, comma-separated; their pooled outputs are
   * concatenated (default: the card's feature layer, else the input of the last Dense/Gemm/MatMul).
   */
  layer?: string;
  /**
   * Input height × width for a model that leaves them open (default: the card's, else 224×224);
   * a model with a fixed input size refuses another one.
   */
  input?: { height: number; width: number };
  /** Pooling of spatial layer outputs (default `avg`). */
  pool?: PoolMode;
  /** Input normalisation (default: the card's; `none` for a local model without one). */
  preprocess?: PreprocessMode;
  /** How images are fitted to the input (default: the model card's, else `center-crop`). */
  resize?: ResizeMode;
  /**
   * center-crop only: the share of the scaled image kept, in (0, 1] (default: the card's, else 1;
   * 0.875 is torchvision's Resize(256) + CenterCrop(224)).
   */
  cropFraction?: number;
  /** Interpolation kernel of the resize (default `linear`, bilinear as PIL/torchvision). */
  resizeKernel?: ResizeKernel;
  /** Embedded ICC colour profiles: `ignore` (default, as PIL/Keras/torchvision) or `apply`. */
  icc?: IccMode;
  /** `flip`: each row is the mean of the image's and its mirror's features, run in the same batch (default `none`). */
  tta?: TtaMode;
  /** `flip`: each image gives a second row, its mirror's (default `none`). */
  augment?: AugmentMode;
  /** Inference engine (default `auto`: onnx when the model exports, else tfjs). */
  engine?: EngineChoice;
  /** Inference threads (default: all cores on the CPU, 1 beside a GPU). */
  threads?: number;
  /**
   * Where the onnx engine runs (default `auto`: a GPU when one works and is faster than the CPU,
   * else the CPU): `cpu`, `gpu`, `webgpu`, `cuda` or `cuda:N`; an unmet GPU request is an error.
   */
  device?: DeviceRequest | string;
  /** Precision of the network's computation (default `fp32`; `fp16` for GPUs, onnx engine only). */
  precision?: Precision;
  /**
   * The onnx engine takes the decoded uint8 pixels and normalises them inside its graph (default
   * true; see `extractor.inputType`); false: it takes preprocessed float32 batches, as tfjs does.
   */
  pixelInput?: boolean;
  logger?: Logger;
}

/** A loaded extractor with the settings that describe its output. */
export interface FeatureModel {
  resolved: ResolvedModel;
  extractor: FeatureExtractor;
  settings: ExtractSettings;
}

/**
 * Resolves (pulling on first use), loads and warms up the feature network.
 * Call `extractor.dispose()` when done.
 */
export async function loadFeatureModel(opts: FeatureModelOptions = {}): Promise<FeatureModel> {
  const logger = opts.logger ?? silentLogger;
  const resolved = await resolveModel(opts.model ?? DEFAULT_MODEL, logger);
  const preprocess = opts.preprocess ?? resolved.preprocess;
  if (!preprocess) {
    const hint = resolved.format === 'onnx' ? '; torch for timm/torchvision exports' : '';
    throw new CnnfeatError(`--model ${resolved.id}: no model card gives its preprocessing; name it (--preprocess ${PREPROCESS_MODES.join('|')}${hint})`);
  }
  const fitting = fittingOf(opts, resolved);
  const views = viewsOf(opts);
  const layers = parseLayers(opts.layer ?? resolved.featureLayer);
  if (opts.layer !== undefined) await assertCutNames(resolved, layers);
  const extractor = await loadEngine(
    { ...resolved, input: opts.input ?? resolved.input },
    {
      engine: opts.engine ?? EXTRACT_DEFAULTS.engine,
      layers,
      pool: opts.pool ?? EXTRACT_DEFAULTS.pool,
      threads: opts.threads,
      preprocess,
      device: typeof opts.device === 'string' ? parseDevice(opts.device) : opts.device,
      precision: opts.precision ?? EXTRACT_DEFAULTS.precision,
      pixels: opts.pixelInput ?? true,
      logger,
    },
  );
  const { height, width } = extractor.input;
  if (opts.input && (opts.input.height !== height || opts.input.width !== width)) {
    await extractor.dispose();
    throw new CnnfeatError(`--model ${resolved.id}: the model's input is fixed at ${height}x${width}; leave out the input size (--input ${opts.input.height}x${opts.input.width})`);
  }
  const settings: ExtractSettings = {
    model: resolved.id,
    weightsDigest: resolved.weightsDigest,
    layer: extractor.layers.join(','),
    pooled: extractor.pooled,
    pool: extractor.pool,
    preprocess,
    dim: extractor.dim,
    input: extractor.input,
    ...fitting,
    resizeKernel: opts.resizeKernel ?? EXTRACT_DEFAULTS.resizeKernel,
    icc: opts.icc ?? EXTRACT_DEFAULTS.icc,
    precision: extractor.describe().precision ?? 'fp32',
    ...views,
  };
  return { resolved, extractor, settings };
}

/**
 * How images are fitted: the options', else the model card's, else the defaults (center-crop).
 * A crop fraction belongs to a center-crop: the card's applies when the card's mode is the one in force.
 */
function fittingOf(opts: FeatureModelOptions, card: ResolvedModel): Pick<ExtractSettings, 'resize' | 'cropFraction'> {
  const resize = opts.resize ?? card.resize ?? EXTRACT_DEFAULTS.resize;
  checkFitting(resize, opts.cropFraction);
  if (resize !== 'center-crop') return { resize, cropFraction: 1 };
  const cardFraction = (card.resize ?? 'center-crop') === 'center-crop' ? card.cropFraction : undefined;
  return { resize, cropFraction: opts.cropFraction ?? cardFraction ?? EXTRACT_DEFAULTS.cropFraction };
}

/** Test-time and training mirrors (not both: a row that is already the mean of an image and its mirror gains nothing from a mirrored copy). */
function viewsOf(opts: FeatureModelOptions): Pick<ExtractSettings, 'tta' | 'augment'> {
  const tta = opts.tta ?? EXTRACT_DEFAULTS.tta;
  const augment = opts.augment ?? EXTRACT_DEFAULTS.augment;
  if (!TTA_MODES.includes(tta)) throw new CnnfeatError(`--tta must be one of ${TTA_MODES.join(', ')}, got "${String(tta)}"`);
  if (!AUGMENT_MODES.includes(augment)) throw new CnnfeatError(`--augment must be one of ${AUGMENT_MODES.join(', ')}, got "${String(augment)}"`);
  if (tta === 'flip' && augment === 'flip') {
    throw new CnnfeatError('--augment flip adds nothing to --tta flip (each row is already the mean of the image and its mirror); give one of them');
  }
  return { tta, augment };
}

/**
 * How images are fitted and mirrored, in words, e.g. `fitting center-crop (crop fraction 0.875,
 * linear kernel), tta flip` or `fitting squash (linear kernel), tta none` (`, augment flip` with
 * mirrored rows): what the summaries of `run` and `extract` name.
 */
export function describeFitting(s: Pick<ExtractSettings, 'resize' | 'cropFraction' | 'resizeKernel' | 'tta' | 'augment'>): string {
  const fraction = s.resize === 'center-crop' ? `crop fraction ${s.cropFraction}, ` : '';
  return `fitting ${s.resize} (${fraction}${s.resizeKernel} kernel), tta ${s.tta}${s.augment === 'none' ? '' : `, augment ${s.augment}`}`;
}

/**
 * Checks named cuts against a TensorFlow.js model's topology before anything is loaded or
 * exported (ONNX models check their tensor names when their graph is read).
 */
async function assertCutNames(resolved: ResolvedModel, layers: string[]): Promise<void> {
  if (resolved.format === 'onnx') return;
  const known = cutNamesOf((await readModelJson(resolved.modelFile)).json);
  if (known === null) return;
  const names = new Set(known);
  const kind = resolved.format === 'graph' ? 'node' : 'layer';
  const missing = layers.find((name) => !names.has(kind === 'node' ? name.replace(/:\d+$/, '') : name));
  if (missing !== undefined) throw unknownCutError(kind, missing, known, resolved.id);
}

/** `--layer a,b` as a list (empty: the model's default). */
function parseLayers(spec: string | undefined): string[] {
  const layers = (spec ?? '').split(',').map((l) => l.trim()).filter(Boolean);
  const repeated = layers.find((l, i) => layers.indexOf(l) !== i);
  if (repeated) throw new CnnfeatError(`--layer ${spec}: "${repeated}" is named twice; name each layer once`);
  return layers;
}

/**
 * Runs `fn` with `opts.featureModel` when given (shared, left open), else with a model loaded
 * for the call and disposed after it.
 */
export async function withFeatureModel<T>(
  opts: FeatureModelOptions & { featureModel?: FeatureModel },
  fn: (fm: FeatureModel) => Promise<T>,
): Promise<T> {
  if (opts.featureModel) return fn(opts.featureModel);
  const featureModel = await loadFeatureModel(opts);
  try {
    return await fn(featureModel);
  } finally {
    await featureModel.extractor.dispose();
  }
}
