/** Messages between the ONNX engine and its session worker. */

/** `workerData` of the session worker. */
export interface SessionSetup {
  file: string;
  threads: number;
}

export type SessionRequest =
  | { type: 'run'; id: number; batch: Float32Array; dims: [number, number, number, 3] }
  | { type: 'release' };

export type SessionResponse =
  | { type: 'ready' }
  | { type: 'result'; id: number; features: Float32Array }
  | { type: 'error'; id: number; message: string };
