/**
 * Where the time of one extraction session went (manifest.json `timings.stages`), in seconds.
 * A resumed extraction describes only the session that finished it.
 */
export interface ExtractStages {
  batches: number;
  images: number;
  batchSize: number;
  /** From the start of the first decode to the last checkpoint (model loading excluded). */
  seconds: number;
  /** What the main thread did; the parts add up to `seconds`. */
  main: {
    /** Waiting for a batch to finish decoding (the first batch, or decoding slower than inference). */
    waitDecode: number;
    /** Converting decoded pixels into the float32 batch. */
    preprocess: number;
    /** Waiting for the engine's features. */
    waitEngine: number;
    /** Appending rows and sample lines, fsync, checkpoint. */
    write: number;
    other: number;
  };
  /** Decoding (sharp, in the libuv thread pool) summed over batches; it overlaps inference. */
  decode: number;
  /** What the inference engine did; inference + idle = `seconds`. */
  engine: {
    inference: number;
    /** No batch to run: before the first one, in gaps between batches, after the last. */
    idle: number;
    /** Of `idle`: until the first batch was decoded and handed over. */
    beforeFirstBatch: number;
    /** Of `idle`: from the last features' arrival to the end (last write and checkpoint). */
    afterLastBatch: number;
    /** Batches handed to the engine until their run started (engines in another thread). */
    handover: number;
    /** Features on their way back to the main thread. */
    return: number;
    /** inference / seconds. */
    utilization: number;
  };
  /**
   * CPU seconds by thread group (Linux only, else null): the main thread, the inference threads
   * (and how long they were ready but waited for a core), and everything else — sharp's decoding,
   * file I/O, garbage-collector helpers.
   */
  cpu: { process: number; main: number; inference: number | null; inferenceWaitedForCore: number | null; decodeAndOther: number } | null;
  /** Thread settings in force: inference threads, images decoded at once, libvips threads per image. */
  threads: { inference: number; decodeConcurrency: number; libvips: number };
}
