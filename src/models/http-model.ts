import path from 'node:path';
import { promises as fsp } from 'node:fs';
import { CnnfeatError, ExitCode, errorMessage } from '../errors.js';
import type { Logger, Progress } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { downloadFile, httpSettings, type FilePin, type HttpSettings } from './http.js';
import { installModel, recordInstall, type InstallRecord, type InstalledModel } from './install.js';
import { declaredWeightBytes, parseModelJson } from '../formats/tfjs-model.js';
import { decodeOnnx, externalLocations, isOnnxPath } from '../formats/onnx-model.js';

/** Where a model served over HTTP is (a tfjs model.json or an .onnx file), and what its files must be. */
export interface HttpModelRequest {
  /** Card id, or the URL itself for a model given by URL. */
  id: string;
  /** URL of model.json, or of a `.onnx` file (its external data beside it). */
  url: string;
  /** Cache folder to install into. */
  dir: string;
  /** Pins by file name (`model.json` and shard paths as the manifest lists them; the .onnx file's name and its external-data files). */
  pins?: Record<string, FilePin>;
  force?: boolean;
  logger?: Logger;
}

/**
 * The URL of a file beside the model (a weight shard, an external-data file), as tfjs computes
 * a shard's: the path relative to the model URL's folder, followed by the model URL's query
 * string (TF Hub serves `…/model.json?tfjs-format=file`).
 */
export function shardUrl(modelJsonUrl: string, shardPath: string): string {
  const base = new URL(modelJsonUrl);
  const shard = new URL(shardPath, new URL('.', base));
  shard.search = base.search;
  return shard.href;
}

/** Whether an install record is a download of `url` that satisfies every pin. */
export function httpRecordMatches(url: string, pins: Record<string, FilePin> = {}): (record: InstallRecord) => boolean {
  return (record) =>
    record.url === url &&
    Object.entries(pins).every(([name, pin]) => {
      const file = record.files.find((f) => f.name === name);
      return file !== undefined && (pin.bytes === undefined || file.bytes === pin.bytes) && (pin.sha256 === undefined || file.sha256 === pin.sha256.toLowerCase());
    });
}

/** The file name a model URL is saved under: model.json, or the .onnx file's own name. */
export function httpModelFile(url: string): string {
  if (!isOnnxPath(url)) return 'model.json';
  const name = decodeURIComponent(path.posix.basename(new URL(url).pathname));
  return /^[^/\\]+\.onnx$/i.test(name) && !name.startsWith('.') ? name : 'model.onnx';
}

/**
 * Downloads a model into the cache — model.json and every shard its manifest lists, or an .onnx
 * file and the external-data files it names — with progress on the logger, checking each file
 * against its pin (and tfjs shards against the weight sizes the manifest declares), and installs
 * the folder atomically (nothing is left behind on failure). A verified cached copy (same URL,
 * sizes and sha256 as recorded) is used without any network access.
 */
export async function pullHttpModel(req: HttpModelRequest): Promise<InstalledModel> {
  const { id, url, pins = {}, logger = silentLogger } = req;
  const modelFile = httpModelFile(url);
  return installModel({
    dir: req.dir,
    modelFile,
    matches: httpRecordMatches(url, pins),
    force: req.force,
    logger,
    describeFailure: (err) => `could not download model ${id === url ? '' : `${id} `}from ${url}: ${errorMessage(err)}; nothing was installed`,
    fill: (staging) => (modelFile === 'model.json' ? downloadInto(staging, req, pins, logger) : downloadOnnxInto(staging, modelFile, req, pins, logger)),
  });
}

/** Downloads an .onnx file, then the external-data files it names, each beside it. */
async function downloadOnnxInto(staging: string, modelFile: string, { id, url }: HttpModelRequest, pins: Record<string, FilePin>, logger: Logger): Promise<InstallRecord> {
  const settings = httpSettings();
  const hashes = new Map<string, string>();
  logger.info(`Downloading model ${id === url ? url : `${id} from ${url}`}…`);
  const file = path.join(staging, modelFile);
  hashes.set(modelFile, (await downloadWithProgress(url, file, pins[modelFile], settings, logger, modelFile)).sha256);
  const locations = externalLocations(decodeOnnx(await fsp.readFile(file), url, ExitCode.model), url, ExitCode.model);
  refuseUnknownPins(url, pins, modelFile, locations, 'the ONNX file does not use');
  for (const location of locations) {
    hashes.set(location, (await downloadWithProgress(shardUrl(url, location), path.join(staging, location), pins[location], settings, logger, location)).sha256);
  }
  return recordInstall(staging, modelFile, { id, url }, hashes).catch((err: unknown) => {
    throw new CnnfeatError(`${url}: ${errorMessage(err).replace(/^[^:]*: /, '')}; nothing was installed`, ExitCode.model);
  });
}

/** Refuses a card's pins of files the model does not consist of (the card is wrong). */
function refuseUnknownPins(url: string, pins: Record<string, FilePin>, modelFile: string, files: string[], why: string): void {
  const unknown = Object.keys(pins).filter((name) => name !== modelFile && !files.includes(name));
  if (unknown.length > 0) throw new CnnfeatError(`${url}: the model card pins ${unknown.join(', ')}, which ${why}; the card is wrong`, ExitCode.model);
}

/** One download with a progress bar in kB once the server announces the size. */
async function downloadWithProgress(url: string, dest: string, pin: FilePin | undefined, settings: HttpSettings, logger: Logger, name: string) {
  let progress: Progress | null = null;
  let received = 0;
  try {
    return await downloadFile(url, dest, {
      pin,
      settings,
      onBytes(delta, declared) {
        received += delta;
        progress ??= declared === null ? null : logger.progress(Math.ceil(declared / 1024), `Downloading ${name} (kB)`, 'kB');
        progress?.update(Math.ceil(received / 1024));
      },
    });
  } finally {
    (progress as Progress | null)?.stop();
  }
}

async function downloadInto(staging: string, { id, url }: HttpModelRequest, pins: Record<string, FilePin>, logger: Logger): Promise<InstallRecord> {
  const settings = httpSettings();
  const hashes = new Map<string, string>();
  logger.info(`Downloading model ${id === url ? url : `${id} from ${url}`}…`);
  const jsonFile = path.join(staging, 'model.json');
  hashes.set('model.json', (await downloadFile(url, jsonFile, { pin: pins['model.json'], settings })).sha256);
  let parsedJson: unknown;
  try {
    parsedJson = JSON.parse(await fsp.readFile(jsonFile, 'utf8'));
  } catch (err) {
    throw new CnnfeatError(`${url}: not JSON (${errorMessage(err)}); give the URL of a TensorFlow.js model.json`, ExitCode.model);
  }
  const { json, shardPaths } = parseModelJson(parsedJson, url);
  refuseUnknownPins(url, pins, 'model.json', shardPaths, 'model.json does not list');
  const declared = declaredWeightBytes(json);
  const progress =
    declared === null ? silentLogger.progress(0, '') : logger.progress(Math.ceil(declared / 1024), `Downloading ${shardPaths.length} weight files (kB)`, 'kB');
  let received = 0;
  try {
    for (const shard of shardPaths) {
      const got = await downloadFile(shardUrl(url, shard), path.join(staging, shard), {
        pin: pins[shard],
        settings,
        onBytes(delta) {
          received += delta;
          progress.update(Math.ceil(received / 1024));
        },
      });
      hashes.set(shard, got.sha256);
    }
  } finally {
    progress.stop();
  }
  if (declared !== null && received < declared) {
    throw new CnnfeatError(
      `${url}: the weight files hold ${received} bytes but model.json declares ${declared}; a shard is truncated, nothing was installed`,
      ExitCode.model,
    );
  }
  return recordInstall(staging, 'model.json', { id, url }, hashes);
}
