// A local HTTP server on 127.0.0.1 (random port) serving model files from a folder, with
// per-file misbehaviours for the download tests.
import { promises as fsp } from 'node:fs';
import http from 'node:http';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { TestContext } from 'node:test';

/** How the server misbehaves for one file. */
export type Rule = '404' | 'truncate' | 'short-chunked' | 'stall' | 'flaky' | 'slow';

/** A running file server. */
export interface FileServer {
  /** `http://127.0.0.1:<port>/m/` */
  base: string;
  /** Requests per path + query string. */
  hits: Map<string, number>;
  close(): Promise<void>;
}

/**
 * Serves `dir` under `/m/`. `rules[name]` (name relative to `dir`) is one of:
 * - `404`: not found
 * - `truncate`: announces the full Content-Length, sends half, then cuts the connection
 * - `short-chunked`: sends half the file without Content-Length (chunked), cleanly ended
 * - `stall`: sends the headers and a few bytes, then nothing more
 * - `flaky`: answers 503 to the first request, then serves the file
 * - `slow`: waits 300 ms before answering (to overlap concurrent clients)
 * Returns { base, hits, close }, `hits` counting requests per path+query.
 */
export async function serveFiles(t: TestContext, dir: string, rules: Record<string, Rule> = {}): Promise<FileServer> {
  const hits = new Map<string, number>();
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    hits.set(url.pathname + url.search, (hits.get(url.pathname + url.search) ?? 0) + 1);
    const name = decodeURIComponent(url.pathname.replace(/^\/m\//, ''));
    const rule = rules[name];
    const body = await fsp.readFile(path.join(dir, name)).catch(() => null);
    if (body === null || rule === '404') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end('not found');
    }
    if (rule === 'flaky' && hits.get(url.pathname + url.search) === 1) {
      res.writeHead(503);
      return res.end('busy');
    }
    if (rule === 'slow') await new Promise((resolve) => setTimeout(resolve, 300));
    if (rule === 'truncate') {
      res.writeHead(200, { 'content-length': body.length });
      res.write(body.subarray(0, Math.floor(body.length / 2)));
      return setTimeout(() => res.socket?.destroy(), 20);
    }
    if (rule === 'short-chunked') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      return res.end(body.subarray(0, Math.floor(body.length / 2)));
    }
    if (rule === 'stall') {
      res.writeHead(200, { 'content-length': body.length });
      return res.write(body.subarray(0, 4));
    }
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  t.after(close);
  return { base: `http://127.0.0.1:${portOf(server)}/m/`, hits, close };
}

/** The port a listening server was given. */
export function portOf(server: http.Server): number {
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object', 'the server listens on a TCP port');
  return address.port;
}
