import path from 'node:path';
import { promises as fsp } from 'node:fs';
import { CnnfeatError, ExitCode, errorMessage } from '../errors.js';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { downloadFile, httpSettings, type FilePin } from './http.js';
import { installModel, recordInstall, type InstallRecord, type InstalledModel } from './install.js';
import { declaredWeightBytes, parseModelJson } from '../formats/tfjs-model.js';

/** Where a tfjs model served over HTTP is, and what its files must be. */
export interface HttpModelRequest {
  /** Card id, or the URL itself for a model given by URL. */
  id: string;
  /** URL of model.json. */
  url: string;
  /** Cache folder to install into. */
  dir: string;
  /** Pins by file name (`model.json`, shard paths as the manifest lists them). */
  pins?: Record<string, FilePin>;
  force?: boolean;
  logger?: Logger;
}

/**
 * The URL of a weight shard, as tfjs computes it: the shard path relative to model.json's folder,
 * followed by model.json's query string (TF Hub serves `…/model.json?tfjs-format=file`).
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

/**
 * Downloads model.json and every shard its manifest lists into the cache, with progress on the
 * logger, checking each file against its pin and the shards against the weight sizes the manifest
 * declares, and installs the folder atomically (nothing is left behind on failure). A verified
 * cached copy (same URL, sizes and sha256 as recorded) is used without any network access.
 */
export async function pullHttpModel(req: HttpModelRequest): Promise<InstalledModel> {
  const { id, url, pins = {}, logger = silentLogger } = req;
  return installModel({
    dir: req.dir,
    modelFile: 'model.json',
    matches: httpRecordMatches(url, pins),
    force: req.force,
    logger,
    describeFailure: (err) => `could not download model ${id === url ? '' : `${id} `}from ${url}: ${errorMessage(err)}; nothing was installed`,
    fill: (staging) => downloadInto(staging, req, pins, logger),
  });
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
  const unknownPins = Object.keys(pins).filter((name) => name !== 'model.json' && !shardPaths.includes(name));
  if (unknownPins.length > 0) {
    throw new CnnfeatError(`${url}: the model card pins ${unknownPins.join(', ')}, which model.json does not list; the card is wrong`, ExitCode.model);
  }
  const declared = declaredWeightBytes(json);
  const progress =
    declared === null ? silentLogger.progress(0, '') : logger.progress(Math.ceil(declared / 1024), `Downloading ${shardPaths.length} weight files (kB)`, 'kB');
  const started = Date.now();
  let received = 0;
  try {
    for (const shard of shardPaths) {
      const got = await downloadFile(shardUrl(url, shard), path.join(staging, shard), {
        pin: pins[shard],
        settings,
        onBytes(delta) {
          received += delta;
          progress.update(Math.ceil(received / 1024), { rate: received / 1024 / Math.max(0.001, (Date.now() - started) / 1000) });
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
