import os from 'node:os';
import type { Command } from 'commander';
import { cacheDir } from '../util/cache.js';
import { listCards } from '../models/card.js';
import { TOOL_VERSION } from '../version.js';
import { addOutputOptions, printResult } from './options.js';
import { EXTRACT_DEFAULTS, defaultDecoders } from '../pipeline/setup/defaults.js';

/** `cnnfeat info` */
export function register(program: Command): void {
  addOutputOptions(program.command('info').description('versions, engines and which one auto picks, cache folder, threads, GPU providers and adapters')).action(async (flags: { json?: boolean }) => {
    const [{ default: sharp }, { tfjsVersions }, { engineStatus }, { onnxRuntimeVersion }, { installedModel }, { gpuStatus, gpuStatusLines }] = await Promise.all([
      import('sharp'),
      import('../engines/backend.js'),
      import('../engines/select.js'),
      import('../engines/onnx/engine.js'),
      import('../models/download.js'),
      import('../engines/device/status.js'),
    ]);
    const [{ engines, tfjsFallback }, gpu] = await Promise.all([engineStatus(), gpuStatus()]);
    const cards = await listCards();
    const info = {
      cnnfeat: TOOL_VERSION,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      engines,
      auto: `onnx for models it exports (Keras layers), else ${tfjsFallback}`,
      versions: { 'onnxruntime-node': onnxRuntimeVersion(), ...tfjsVersions(), sharp: sharp.versions.sharp, libvips: sharp.versions.vips },
      cacheDir: cacheDir(),
      models: Object.fromEntries(await Promise.all(cards.map(async (c) => [c.id, (await installedModel(c))?.dir ?? null]))),
      threads: { cpus: os.availableParallelism(), sharp: sharp.concurrency(), libuvPool: Number(process.env.UV_THREADPOOL_SIZE ?? 4), decoders: decodersByDevice() },
      gpu,
    };
    printResult(flags, info, () =>
      [
        `cnnfeat   ${info.cnnfeat} (node ${info.node}, ${info.platform})`,
        `engines   ${engines.map((e) => `${e.engine}${e.available ? '' : ` (${unavailable(e.engine, info.versions)})`}`).join(', ')}`,
        `auto      ${info.auto}`,
        `versions  ${Object.entries(info.versions).map(([k, v]) => `${k} ${v ?? '-'}`).join(', ')}`,
        `cache     ${info.cacheDir}`,
        `models    ${Object.entries(info.models).map(([id, dir]) => `${id}: ${dir ?? 'not downloaded'}`).join(', ')}`,
        `threads   ${info.threads.cpus} cpus, sharp ${info.threads.sharp}, libuv pool ${info.threads.libuvPool}, decoder processes ${info.threads.decoders.cpuInference} (inference on the CPU) or ${info.threads.decoders.gpuInference} (on a GPU)`,
        ...gpuStatusLines(gpu),
      ].join('\n'),
    );
  });
}

/** The decoder processes a long extraction gets by default on this machine. */
function decodersByDevice(): { cpuInference: number; gpuInference: number } {
  const work = { cores: os.availableParallelism(), images: Infinity, batchSize: EXTRACT_DEFAULTS.batchSize };
  return { cpuInference: defaultDecoders({ ...work, gpu: false }), gpuInference: defaultDecoders({ ...work, gpu: true }) };
}

/** Why an engine cannot run: tfjs-node's package is installed without its install script's native library where scripts are off. */
function unavailable(engine: string, versions: Record<string, string | null>): string {
  return engine === 'tfjs-node' && versions['@tensorflow/tfjs-node'] ? 'no native library: npm rebuild @tensorflow/tfjs-node --ignore-scripts=false' : 'not installed';
}
