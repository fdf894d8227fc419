import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';

/** Backends cnnfeat can run TensorFlow.js models on, fastest first. */
export const BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
export type BackendChoice = BackendName | 'auto';

const require = createRequire(import.meta.url);
let ready: Promise<BackendName> | undefined;

/**
 * Selects and initialises the tfjs backend once per process. `auto` takes `tensorflow`
 * (libtensorflow via the optional `@tensorflow/tfjs-node`) when it is installed, else `wasm`.
 */
export function initBackend(choice: BackendChoice = 'auto'): Promise<BackendName> {
  ready ??= selectBackend(choice);
  return ready;
}

async function selectBackend(choice: BackendChoice): Promise<BackendName> {
  const order: BackendName[] = choice === 'auto' ? ['tensorflow', 'wasm'] : [choice];
  for (const name of order) {
    if (await tryBackend(name)) return name;
  }
  throw new Error(`the ${choice} tfjs backend could not be initialised`);
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
