// Progress displays: rate and ETA of a resumed job, the plain-line rule for logs (a test clock,
// no waiting), and messages printed while a terminal bar is live.
import assert from 'node:assert/strict';
import path from 'node:path';
import { Writable } from 'node:stream';
import { before, test } from 'node:test';
import { ProgressMeter, formatDuration, lineProgress } from '../dist/util/progress.js';
import { createLogger } from '../dist/util/log.js';
import { fileTempDir, makeTinyModel, readJson, runCli, startCli, writeImage } from './helpers.js';

/** A clock the test moves by hand. */
function testClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[/;

test('resumed at 160 of 500: no rate or ETA until this run has done an image, then both from this run only', () => {
  const clock = testClock();
  const meter = new ProgressMeter(500, 160, clock.now);
  assert.equal(meter.value, 160);
  assert.equal(meter.rate, undefined);
  assert.equal(meter.eta, undefined);
  clock.advance(2000);
  meter.update(160);
  assert.equal(meter.rate, undefined, 'no image done yet in this run');
  clock.advance(8000);
  meter.update(192);
  assert.equal(meter.rate, 32 / 10, '32 images in this run over its 10 s (not 192 over 10 s)');
  assert.equal(meter.eta, (500 - 192) / 3.2);
  meter.update(500);
  assert.equal(meter.eta, 0);
});

test('durations read as 42s, 1m05s, 2h03m', () => {
  assert.deepEqual([formatDuration(41.6), formatDuration(65), formatDuration(2 * 3600 + 3 * 60 + 9)], ['42s', '1m05s', '2h03m']);
});

test('plain lines: at 10 % steps at least 5 s apart, every 30 s anyway, at the end; count, rate, ETA, no escapes', () => {
  const clock = testClock();
  const lines: string[] = [];
  const progress = lineProgress(1000, 'extract', (l) => lines.push(l), { clock: clock.now });
  // 1000 images at 10 img/s: 100 s; a step (100 images) every 10 s.
  for (let done = 1; done <= 1000; done++) {
    clock.advance(100);
    progress.update(done);
  }
  assert.deepEqual(lines.map((l) => /^extract: (\d+)\/1000 /.exec(l)?.[1]), ['100', '200', '300', '400', '500', '600', '700', '800', '900', '1000']);
  assert.equal(lines[1], 'extract: 200/1000 (20%), 10.0 img/s, ETA 1m20s');
  assert.ok(lines.every((l) => !ANSI.test(l)));

  // Fast: 1000 images in 2 s gives the last line only; slow: 1 image every 20 s gives one per 30 s.
  const fast: string[] = [];
  const quick = lineProgress(1000, 'extract', (l) => fast.push(l), { clock: clock.now });
  for (let done = 1; done <= 1000; done++) {
    clock.advance(2);
    quick.update(done);
  }
  assert.deepEqual(fast, ['extract: 1000/1000 (100%), 500.0 img/s, ETA 0s']);
  const slow: string[] = [];
  const crawl = lineProgress(1000, 'extract', (l) => slow.push(l), { clock: clock.now });
  for (let done = 1; done <= 9; done++) {
    clock.advance(20_000);
    crawl.update(done);
  }
  assert.deepEqual(slow.map((l) => l.split(',')[0]), ['extract: 2/1000 (0%)', 'extract: 4/1000 (0%)', 'extract: 6/1000 (0%)', 'extract: 8/1000 (0%)']);
});

test('plain lines of a resumed job count on from where it resumed, with this run\'s rate; training detail and fractional fits', () => {
  const clock = testClock();
  const lines: string[] = [];
  const progress = lineProgress(500, 'extract', (l) => lines.push(l), { clock: clock.now, start: 160 });
  for (let done = 161; done <= 200; done++) {
    clock.advance(250);
    progress.update(done);
  }
  assert.deepEqual(lines, ['extract: 200/500 (40%), 4.0 img/s, ETA 1m15s']);

  const fits: string[] = [];
  const training = lineProgress(40, 'linear selection', (l) => fits.push(l), { clock: clock.now, unit: 'fits' });
  clock.advance(31_000);
  training.update(12.5, { detail: 'logistic l2 fold 2/5' });
  assert.deepEqual(fits, ['linear selection: 12.5/40 (31%), 0.4 fits/s, ETA 1m08s; logistic l2 fold 2/5']);
});

/** A stand-in for a terminal: keeps what is written. */
class FakeTerminal extends Writable {
  text = '';
  readonly isTTY = true;
  readonly columns = 100;
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

test('a terminal bar starts at the resumed count with no rate or ETA; a warning meanwhile replaces the bar\'s line, the bar is drawn again below', (t) => {
  const terminal = new FakeTerminal();
  const logger = createLogger({ stream: terminal as unknown as NodeJS.WriteStream });
  const bar = logger.progress(500, 'extract', 'img', 160);
  t.after(() => bar.stop()); // its redraw timer would keep the test process alive
  assert.match(terminal.text, /extract \[#+-+\] 160\/500 \| - img\/s \| ETA -/);
  bar.update(192);
  terminal.text = '';
  logger.warn('SIGINT: stopping after the current batch (again to stop now)');
  bar.stop();
  // The bar's line is cleared, the message ends with its newline, the cursor the bar goes back to
  // when it stops is saved on the next line, where the bar is drawn again.
  assert.match(
    terminal.text,
    /^\r\x1b\[2K(\x1b\[33m)?warning:(\x1b\[39m)? SIGINT: stopping after the current batch \(again to stop now\)\n\x1b7\x1b\[1Gextract \[#+-+\] 192\/500 \| \d+\.\d img\/s \| ETA \d+s/,
    JSON.stringify(terminal.text),
  );
});

let work: string;
let images: string;
let model: string;
before(async () => {
  work = await fileTempDir('cnnfeat-progress-');
  model = await makeTinyModel(path.join(work, 'tiny'));
  images = path.join(work, 'images');
  for (let i = 0; i < 60; i++) await writeImage(path.join(images, i % 2 ? 'a' : 'b', `${i}.png`), { width: 24, height: 24, seed: i, format: 'png' });
});

const extract = (out: string, ...extra: string[]) => ['extract', images, '-o', out, '--model', model, '--preprocess', 'none', '--batch-size', '2', ...extra];
const progressLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('extract: '));

test('stderr a pipe: extract prints plain progress lines with count and rate (none with --quiet); after --resume they count on from the resumed file', async () => {
  const out = path.join(work, 'piped');
  const first = await runCli(extract(out));
  assert.equal(first.code, 0, first.stderr);
  const lines = progressLines(first.stderr);
  assert.ok(lines.length >= 1 && lines.length <= 11 + 1, first.stderr);
  assert.match(lines.at(-1)!, /^extract: 60\/60 \(100%\), \d+\.\d img\/s, ETA 0s$/);
  assert.ok(!ANSI.test(first.stderr), JSON.stringify(first.stderr));
  assert.equal((await runCli(extract(path.join(work, 'quiet'), '--quiet'))).stderr, '');

  const cut = path.join(work, 'cut');
  const child = startCli(extract(cut, '--quiet'));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  for (;;) {
    assert.equal(child.exitCode, null, 'the extraction ended before it could be interrupted');
    if (((await readJson<{ rows: number }>(path.join(cut, '.cnnfeat-progress.json')).catch(() => null))?.rows ?? 0) >= 2) break;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  child.kill('SIGINT');
  assert.equal(await exited, 130, stderr);
  const resumed = await runCli(extract(cut, '--resume'));
  assert.equal(resumed.code, 0, resumed.stderr);
  const from = Number(/Resuming .* at file (\d+) of 60/.exec(resumed.stderr)?.[1]);
  assert.ok(from > 1 && from <= 60, resumed.stderr);
  assert.match(progressLines(resumed.stderr).at(-1)!, /^extract: 60\/60 \(100%\), \d+\.\d img\/s, ETA 0s$/);
});
