import sharp from 'sharp';
import type { EngineTimings, FeatureExtractor } from '../../engines/engine.js';
import type { ExtractStages } from '../../features/schema.js';
import type { DecoderStats } from '../../image/decoder.js';
import { currentThreadTimes, processTimes, timesBetween } from '../../util/thread-times.js';

type MainStage = 'waitDecode' | 'preprocess' | 'waitEngine' | 'write';

/**
 * Accounts an extraction's time to its stages (see ExtractStages): main-thread wall time per stage,
 * decoding spans, the engine's own measurements and CPU time per thread group.
 */
export class StageClock {
  private readonly startedAt = performance.now();
  private readonly main: Record<MainStage, number> = { waitDecode: 0, preprocess: 0, waitEngine: 0, write: 0 };
  private decodeMs = 0;
  private firstSubmittedAt: number | undefined;
  private lastReceivedAt: number | undefined;
  private batches = 0;
  private images = 0;
  private readonly engineAtStart: EngineTimings | undefined;
  private engineAfterFirst: EngineTimings | undefined;
  private readonly processAtStart = processTimes();
  private readonly mainAtStart = currentThreadTimes();

  constructor(
    private readonly extractor: FeatureExtractor,
    private readonly batchSize: number,
  ) {
    this.engineAtStart = extractor.timings?.();
  }

  /** Runs `fn`, counting the wall time until it settles as main-thread stage `stage`. */
  async time<T>(stage: MainStage, fn: () => Promise<T> | T): Promise<T> {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      this.main[stage] += performance.now() - t;
    }
  }

  /** Runs `fn`, counting its wall time as main-thread stage `stage`. */
  timeSync<T>(stage: MainStage, fn: () => T): T {
    const t = performance.now();
    try {
      return fn();
    } finally {
      this.main[stage] += performance.now() - t;
    }
  }

  /** Counts a batch decode from `startedAt` (performance.now()) until now. */
  decoded(startedAt: number): void {
    this.decodeMs += performance.now() - startedAt;
  }

  /** Counts a batch of `images` handed to the engine. */
  submitted(images: number): void {
    this.firstSubmittedAt ??= performance.now();
    this.batches++;
    this.images += images;
  }

  /** Notes that a batch's features arrived. */
  received(): void {
    this.lastReceivedAt = performance.now();
    this.engineAfterFirst ??= this.extractor.timings?.();
  }

  /** The stages since the clock was made, in seconds, with what the decoder reports of itself. */
  finish(decoder: DecoderStats): ExtractStages {
    const wallMs = performance.now() - this.startedAt;
    const engine = engineBetween(this.engineAtStart, this.extractor.timings?.());
    // An engine that does not measure itself runs on this thread: its inference is the wait for it.
    const inferenceMs = engine?.inferenceMs ?? this.main.waitEngine;
    const processCpu = timesBetween(this.processAtStart, processTimes());
    const mainCpu = timesBetween(this.mainAtStart, currentThreadTimes());
    const busyMs = this.main.waitDecode + this.main.preprocess + this.main.waitEngine + this.main.write;
    const inferenceCpuMs = engine ? engine.inferenceCpuMs : null;
    const firstBatch = engineBetween(this.engineAtStart, this.engineAfterFirst);
    return {
      batches: this.batches,
      images: this.images,
      batchSize: this.batchSize,
      seconds: s(wallMs),
      main: {
        waitDecode: s(this.main.waitDecode),
        preprocess: s(this.main.preprocess),
        waitEngine: s(this.main.waitEngine),
        write: s(this.main.write),
        other: s(Math.max(0, wallMs - busyMs)),
      },
      decode: s(this.decodeMs),
      engine: {
        inference: s(inferenceMs),
        idle: s(Math.max(0, wallMs - inferenceMs)),
        beforeFirstBatch: s((this.firstSubmittedAt ?? this.startedAt) - this.startedAt),
        afterLastBatch: s(Math.max(0, this.startedAt + wallMs - (this.lastReceivedAt ?? this.startedAt + wallMs))),
        firstBatch: firstBatch ? { images: firstBatch.images, inference: s(firstBatch.inferenceMs) } : null,
        handover: s(engine?.handoverMs ?? 0),
        return: s(engine?.returnMs ?? 0),
        utilization: Math.round((inferenceMs / Math.max(wallMs, 1e-9)) * 1000) / 1000,
      },
      cpu:
        processCpu && mainCpu
          ? {
              process: s(processCpu.cpuMs),
              main: s(mainCpu.cpuMs),
              inference: inferenceCpuMs === null ? null : s(inferenceCpuMs),
              inferenceWaitedForCore: engine?.inferenceCpuWaitMs == null ? null : s(engine.inferenceCpuWaitMs),
              decodeAndOther: s(Math.max(0, processCpu.cpuMs - mainCpu.cpuMs - (inferenceCpuMs ?? 0))),
              decoders: decoder.cpuMs === null ? null : s(decoder.cpuMs),
              decodersWaitedForCore: decoder.waitMs === null ? null : s(decoder.waitMs),
            }
          : null,
      threads: { inference: this.extractor.describe().threads, decoderProcesses: decoder.processes, decodeConcurrency: decoder.concurrency, libvips: sharp.concurrency() },
      decoders: decoder.processes === 0 ? null : { peakRssMB: decoder.peakRssMB, restarts: decoder.restarts },
    };
  }
}

function engineBetween(a: EngineTimings | undefined, b: EngineTimings | undefined): EngineTimings | undefined {
  if (!a || !b) return undefined;
  const diff = (x: number | null, y: number | null) => (x === null || y === null ? null : y - x);
  return {
    runs: b.runs - a.runs,
    images: b.images - a.images,
    inferenceMs: b.inferenceMs - a.inferenceMs,
    handoverMs: b.handoverMs - a.handoverMs,
    returnMs: b.returnMs - a.returnMs,
    inferenceCpuMs: diff(a.inferenceCpuMs, b.inferenceCpuMs),
    inferenceCpuWaitMs: diff(a.inferenceCpuWaitMs, b.inferenceCpuWaitMs),
  };
}

/** ms → seconds, to the ms. */
const s = (ms: number) => Math.round(ms) / 1000;
