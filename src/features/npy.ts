import { promises as fsp } from 'node:fs';
import { CnnfeatError } from '../errors.js';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

/**
 * Size of the fixed .npy header cnnfeat writes. Keeping it constant lets the row count be
 * rewritten in place while rows are appended (a valid .npy at every checkpoint).
 */
export const NPY_HEADER_BYTES = 128;

/** Builds a version 1.0 .npy header for a C-order float32 matrix, padded to NPY_HEADER_BYTES. */
export function npyHeader(rows: number, cols: number): Buffer {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  const textBytes = NPY_HEADER_BYTES - MAGIC.length - 4;
  if (dict.length + 1 > textBytes) throw new Error(`npy header too long for shape (${rows}, ${cols})`);
  const header = Buffer.alloc(NPY_HEADER_BYTES, 0x20);
  MAGIC.copy(header, 0);
  header[6] = 1;
  header[7] = 0;
  header.writeUInt16LE(textBytes, 8);
  header.write(dict, 10, 'latin1');
  header[NPY_HEADER_BYTES - 1] = 0x0a;
  return header;
}

/** A float32 matrix read from a .npy file. */
export interface Matrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

/**
 * Reads a 2-D little-endian float32, C-order .npy file (any header version and length) straight
 * into one Float32Array, so files larger than a Node.js Buffer (2 GiB) load too; with `shared`, in
 * a SharedArrayBuffer.
 * @throws CnnfeatError naming the file when it is not such a file or is truncated.
 */
export async function readNpy(file: string, { shared = false }: { shared?: boolean } = {}): Promise<Matrix> {
  const handle = await fsp.open(file, 'r');
  try {
    const { rows, cols, dataOffset } = await readNpyHeader(handle, file);
    // In a SharedArrayBuffer, worker threads (the linear SVM's) read the matrix without a copy.
    const data = shared ? new Float32Array(new SharedArrayBuffer(rows * cols * 4)) : new Float32Array(rows * cols);
    const bytes = new Uint8Array(data.buffer);
    for (let done = 0; done < bytes.length; ) {
      const chunk = Math.min(bytes.length - done, 1 << 28);
      const { bytesRead: n } = await handle.read(bytes, done, chunk, dataOffset + done);
      if (n === 0) throw npyError(file, `truncated (${rows}×${cols} floats expected)`);
      done += n;
    }
    return { data, rows, cols };
  } finally {
    await handle.close();
  }
}

/** Shape of a float32 .npy matrix and where its data starts. */
export interface NpyLayout {
  rows: number;
  cols: number;
  dataOffset: number;
}

/**
 * Reads and checks the header of a 2-D little-endian float32, C-order .npy file (any header
 * version and length), and that the file holds all the data the header announces.
 */
export async function readNpyHeader(handle: fsp.FileHandle, file: string): Promise<NpyLayout> {
  const stat = await handle.stat();
  if (!stat.isFile()) throw npyError(file, 'not a file');
  const head = Buffer.alloc(12);
  const { bytesRead } = await handle.read(head, 0, 12, 0);
  if (bytesRead < 10 || !head.subarray(0, 6).equals(MAGIC)) throw npyError(file, 'not a .npy file');
  const major = head[6]!;
  const headerLen = major === 1 ? head.readUInt16LE(8) : head.readUInt32LE(8);
  const textStart = major === 1 ? 10 : 12;
  const text = Buffer.alloc(headerLen);
  await handle.read(text, 0, headerLen, textStart);
  const header = text.toString('latin1');
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header)) {
    throw npyError(file, 'expected little-endian float32 in C order');
  }
  const shape = /'shape':\s*\((\d+),\s*(\d+)\)/.exec(header);
  if (!shape) throw npyError(file, 'expected a 2-D array');
  const rows = Number(shape[1]);
  const cols = Number(shape[2]);
  const dataOffset = textStart + headerLen;
  if (stat.size < dataOffset + rows * cols * 4) throw npyError(file, `truncated (${rows}×${cols} floats expected)`);
  return { rows, cols, dataOffset };
}

function npyError(file: string, why: string): CnnfeatError {
  return new CnnfeatError(`${file}: ${why}; re-run \`cnnfeat extract\` to rebuild it`);
}
