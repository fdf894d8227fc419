import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { createWriteStream, promises as fsp } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HttpsProxyAgent as ProxyAgentClass } from 'https-proxy-agent';
import { CnnfeatError, ExitCode, errorMessage } from '../errors.js';
import { TOOL_VERSION } from '../version.js';

const requireCjs = createRequire(import.meta.url);

/** Size and/or sha256 a downloaded file must have. */
export interface FilePin {
  bytes?: number;
  sha256?: string;
}

/** Settings of the HTTP client (from the environment by default). */
export interface HttpSettings {
  /** Connect and idle-read timeout: no byte for this long fails the attempt. */
  timeoutMs: number;
  /** Further attempts after a 5xx/429 answer or a network failure (timeouts and cut transfers included). */
  retries: number;
  /** Wait before the first retry; doubled after each. */
  retryDelayMs: number;
}

/**
 * `CNNFEAT_HTTP_TIMEOUT_MS` (default 30000), `CNNFEAT_HTTP_RETRIES` (default 2) and
 * `CNNFEAT_HTTP_RETRY_DELAY_MS` (default 1000).
 */
export function httpSettings(env: NodeJS.ProcessEnv = process.env): HttpSettings {
  const read = (name: string, fallback: number, min: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new CnnfeatError(`${name} must be an integer >= ${min}, got "${raw}"`);
    return n;
  };
  return {
    timeoutMs: read('CNNFEAT_HTTP_TIMEOUT_MS', 30_000, 1),
    retries: read('CNNFEAT_HTTP_RETRIES', 2, 0),
    retryDelayMs: read('CNNFEAT_HTTP_RETRY_DELAY_MS', 1_000, 0),
  };
}

/** A failed attempt; `retry` says whether trying again may help. */
class AttemptError extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
  ) {
    super(message);
  }
}

/** What a completed download produced. */
export interface Downloaded {
  bytes: number;
  sha256: string;
}

const MAX_REDIRECTS = 5;

/**
 * Downloads `url` into `dest` (following redirects, through `HTTPS_PROXY` for https URLs unless
 * `NO_PROXY` lists the host), retrying 5xx/429 answers and network failures, and checks the
 * Content-Length and the pin. `onBytes` is told of every chunk (negative after a failed
 * attempt, to roll progress back) and of the Content-Length (null when the server sends none).
 * @throws CnnfeatError (exit code 4) naming the URL: HTTP status, timeout, truncation, size or hash mismatch
 */
export async function downloadFile(
  url: string,
  dest: string,
  { pin = {}, settings = httpSettings(), onBytes = () => {} }: { pin?: FilePin; settings?: HttpSettings; onBytes?: (delta: number, declared: number | null) => void } = {},
): Promise<Downloaded> {
  await fsp.mkdir(path.dirname(dest), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    let received = 0;
    try {
      const result = await attemptDownload(url, dest, settings.timeoutMs, (n, declared) => {
        received += n;
        onBytes(n, declared);
      });
      checkPin(url, result, pin);
      return result;
    } catch (err) {
      onBytes(-received, null);
      const retry = err instanceof AttemptError && err.retry && attempt < settings.retries;
      if (!retry) {
        const tried = attempt > 0 ? ` (after ${attempt + 1} attempts)` : '';
        if (err instanceof CnnfeatError) throw err;
        throw new CnnfeatError(`${url}: ${errorMessage(err)}${tried}; check the URL and the network, nothing was installed`, ExitCode.model);
      }
      await sleep(settings.retryDelayMs * 2 ** attempt);
    }
  }
}

function checkPin(url: string, got: Downloaded, pin: FilePin): void {
  if (pin.bytes !== undefined && got.bytes !== pin.bytes) {
    throw new CnnfeatError(
      `${url}: got ${got.bytes} bytes but the model card pins ${pin.bytes}; the file is truncated or changed upstream, nothing was installed`,
      ExitCode.model,
    );
  }
  if (pin.sha256 !== undefined && got.sha256 !== pin.sha256.toLowerCase()) {
    throw new CnnfeatError(
      `${url}: sha256 ${got.sha256} differs from the pinned ${pin.sha256}; the file changed upstream or the model card is wrong, nothing was installed`,
      ExitCode.model,
    );
  }
}

/** One GET (with its redirects): streams the body into `dest` while hashing and counting it. */
async function attemptDownload(url: string, dest: string, timeoutMs: number, onBytes: (n: number, declared: number | null) => void): Promise<Downloaded> {
  let target = new URL(url);
  for (let hops = 0; ; hops++) {
    const answer = await request(target, timeoutMs);
    const { res } = answer;
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (hops >= MAX_REDIRECTS) throw new AttemptError(`more than ${MAX_REDIRECTS} redirects`, false);
      target = new URL(res.headers.location, target);
      continue;
    }
    if (status !== 200) {
      res.resume();
      const where = target.href === url ? '' : ` (redirected to ${target.href})`;
      throw new AttemptError(`HTTP ${status} ${res.statusMessage ?? ''}`.trim() + where, status >= 500 || status === 429);
    }
    return saveBody(answer, dest, timeoutMs, onBytes);
  }
}

/** A response, and whether its socket went idle for too long (which destroys it). */
interface Answer {
  res: http.IncomingMessage;
  timedOut: () => boolean;
}

function request(target: URL, timeoutMs: number): Promise<Answer> {
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    return Promise.reject(new AttemptError(`unsupported protocol ${target.protocol}`, false));
  }
  const client = target.protocol === 'https:' ? https : http;
  let timedOut = false;
  return new Promise((resolve, reject) => {
    // `timeout` is the socket's idle timeout: it covers connecting, waiting for headers and every read.
    const req = client.get(target, {
      agent: proxyAgent(target),
      timeout: timeoutMs,
      headers: { 'user-agent': `cnnfeat/${TOOL_VERSION}`, 'accept-encoding': 'identity' },
    });
    req.on('timeout', () => {
      timedOut = true;
      req.destroy(timeoutError(timeoutMs));
    });
    req.on('error', (err) => reject(err instanceof AttemptError ? err : new AttemptError(networkMessage(err), isTransient(err))));
    req.once('response', (res) => resolve({ res, timedOut: () => timedOut }));
  });
}

async function saveBody({ res, timedOut }: Answer, dest: string, timeoutMs: number, onBytes: (n: number, declared: number | null) => void): Promise<Downloaded> {
  const declared = res.headers['content-length'] === undefined ? null : Number(res.headers['content-length']);
  const hash = createHash('sha256');
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      hash.update(chunk);
      onBytes(chunk.length, declared);
      done(null, chunk);
    },
  });
  try {
    await pipeline(res, meter, createWriteStream(dest));
  } catch (err) {
    if (timedOut()) throw timeoutError(timeoutMs);
    if (err instanceof AttemptError) throw err;
    const expected = declared === null ? '' : ` of ${declared}`;
    throw new AttemptError(`transfer cut after ${bytes}${expected} bytes (${networkMessage(err)})`, true);
  }
  if (declared !== null && bytes !== declared) {
    throw new AttemptError(`truncated download: got ${bytes} of ${declared} bytes (Content-Length)`, true);
  }
  return { bytes, sha256: hash.digest('hex') };
}

function timeoutError(timeoutMs: number): AttemptError {
  return new AttemptError(`no data for ${timeoutMs / 1000} s (timeout; raise CNNFEAT_HTTP_TIMEOUT_MS on a slow network)`, true);
}

/** Failures that another attempt cannot fix: unknown host, TLS certificate problems. */
const PERMANENT_CODES = /^(ENOTFOUND|ERR_INVALID_URL|ERR_TLS_CERT_ALTNAME_INVALID|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT)/;

function isTransient(err: unknown): boolean {
  return !PERMANENT_CODES.test((err as NodeJS.ErrnoException).code ?? '');
}

function networkMessage(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const message = errorMessage(err);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

const agents = new Map<string, http.Agent>();

/** The proxy agent for an https URL when `HTTPS_PROXY` is set and `NO_PROXY` does not exempt the host. */
function proxyAgent(target: URL): http.Agent | undefined {
  if (target.protocol !== 'https:') return undefined;
  const proxy = process.env.HTTPS_PROXY || process.env.https_proxy;
  if (!proxy || bypassesProxy(target.hostname, process.env.NO_PROXY ?? process.env.no_proxy ?? '')) return undefined;
  let agent = agents.get(proxy);
  if (!agent) {
    const { HttpsProxyAgent } = requireCjs('https-proxy-agent') as { HttpsProxyAgent: typeof ProxyAgentClass }; // only behind a proxy
    agent = new HttpsProxyAgent(proxy);
    agents.set(proxy, agent);
  }
  return agent;
}

/** Whether `NO_PROXY` (comma-separated hosts or domain suffixes, `*` for all) exempts `host`. */
export function bypassesProxy(host: string, noProxy: string): boolean {
  const name = host.toLowerCase().replace(/^\[|\]$/g, '');
  return noProxy
    .split(/[\s,]+/)
    .map((entry) => entry.trim().toLowerCase().replace(/:\d+$/, ''))
    .filter(Boolean)
    .some((entry) => entry === '*' || name === entry.replace(/^\*?\./, '') || name.endsWith(entry.startsWith('.') ? entry : `.${entry.replace(/^\*\./, '')}`));
}
