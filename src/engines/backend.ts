import { createRequire } from 'node:module';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { CnnfeatError } from '../errors.js';
import type { EngineDescription, EngineName } from './engine.js';

/** Backends cnnfeat can run TensorFlow.js models on, fastest first. */
export const BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
export type BackendChoice = BackendName | 'auto';

const require = createRequire(import.meta.url);
let selected: { choice: BackendChoice; ready: Promise<BackendName> } | undefined;

/**
 * Selects and initialises the tfjs backend, once per process (tfjs has one global backend).
 * `auto` takes `tensorflow` (libtensorflow via the optional `@tensorflow/tfjs-node`) when it is
 * installed, else `wasm`.
 * @throws CnnfeatError when the requested backend is unavailable, or differs from the one in use
 */
export function initBackend(choice: BackendChoice = 'auto'): Promise<BackendName> {
  if (selected && selected.choice !== choice && choice !== 'auto') {
    return selected.ready.then((name) => {
      if (name === choice) return name;
      throw new CnnfeatError(`the tfjs backend is already ${name} in this process; ${choice} cannot be selected too`);
    });
  }
  if (!selected) {
    const ready = selectBackend(choice);
    selected = { choice, ready };
    ready.catch(() => (selected = undefined));
  }
  return selected.ready;
}

async function selectBackend(choice: BackendChoice): Promise<BackendName> {
  tf.enableProdMode(); // no debug checks, and no console banners (e.g. the cpu backend's tfjs-node advert)
  const order: BackendName[] = choice === 'auto' ? ['tensorflow', 'wasm'] : [choice];
  for (const name of order) {
    if (await tryBackend(name)) return name;
  }
  const hint = choice === 'tensorflow' ? ' (is @tensorflow/tfjs-node installed?)' : '';
  throw new CnnfeatError(`the ${choice} tfjs backend could not be initialised${hint}; use the auto engine (--engine auto)`);
}

async function tryBackend(name: BackendName): Promise<boolean> {
  try {
    if (name === 'tensorflow') await import('@tensorflow/tfjs-node' as string);
    if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    return (await tf.setBackend(name)) && tf.getBackend() === name;
  } catch {
    return false;
  }
}

/** The engine a tfjs backend is, as named in results and manifests: `tfjs-node`, `tfjs-wasm`, `tfjs-cpu`. */
export function engineName(backend: BackendName): EngineName {
  return backend === 'tensorflow' ? 'tfjs-node' : `tfjs-${backend}`;
}

/** How a tfjs engine describes itself: its name, the version of its package and its threads. */
export async function tfjsDescription(backend: BackendName): Promise<EngineDescription> {
  const versions = tfjsVersions();
  if (backend === 'tensorflow') return { engine: 'tfjs-node', version: versions['@tensorflow/tfjs-node'] ?? 'unknown', threads: os.availableParallelism() };
  if (backend === 'wasm') {
    const threads = (await import('@tensorflow/tfjs-backend-wasm')).getThreadsCount();
    return { engine: 'tfjs-wasm', version: versions['@tensorflow/tfjs-backend-wasm'] ?? 'unknown', threads };
  }
  return { engine: 'tfjs-cpu', version: versions['@tensorflow/tfjs'] ?? 'unknown', threads: 1 };
}

/** The tfjs backend behind an engine name (inverse of `engineName`). */
export function backendOf(engine: EngineName): BackendName | null {
  if (engine === 'tfjs-node') return 'tensorflow';
  if (engine === 'tfjs-wasm') return 'wasm';
  if (engine === 'tfjs-cpu') return 'cpu';
  return null;
}

/** Versions of the tfjs packages present (`null` when not installed). */
export function tfjsVersions(): Record<string, string | null> {
  const version = (pkg: string) => {
    try {
      return (require(`${pkg}/package.json`) as { version: string }).version;
    } catch {
      return null;
    }
  };
  return {
    '@tensorflow/tfjs': version('@tensorflow/tfjs'),
    '@tensorflow/tfjs-backend-wasm': version('@tensorflow/tfjs-backend-wasm'),
    '@tensorflow/tfjs-node': version('@tensorflow/tfjs-node'),
  };
}
