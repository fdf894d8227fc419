// The HTML report: written by `run` and `eval --report`, self-contained, and rendered by a
// real browser (headless Chromium through playwright-core).
// The functions handed to page.evaluate run in the browser: they are typed with the DOM library.
/// <reference lib="dom" />
import assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { computeMetrics, type Metrics } from '../dist/metrics/metrics.js';
import { escapeHtml, renderReport, type ReportData } from '../dist/report/html.js';
import { galleryOrder } from '../dist/report/report.js';
import { formatScore, type ScoreKind } from '../dist/classifiers/common/scores.js';
import { json, makeTinyModel, manifestOf, ROOT, runCli, tempDir, writeImage, type Rgb } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUTPUT_DIR = path.join(ROOT, 'test-output');
const ODD_CLASS = 'blue <b>&"x\'';

/**
 * train/ and test/ of two colour classes (one with HTML-special characters in its name);
 * two red images are filed under the blue class in test/, so they are misclassified.
 */
async function makeDataset(dir: string): Promise<string> {
  const red: Rgb = [210, 40, 40];
  const colours: Record<string, Rgb> = { red, [ODD_CLASS]: [40, 60, 210] };
  for (const [name, rgb] of Object.entries(colours)) {
    for (let i = 0; i < 8; i++) await writeImage(path.join(dir, 'train', name, `t${i}.jpg`), { rgb, seed: i + (name === 'red' ? 0 : 500) });
    for (let i = 0; i < 3; i++) await writeImage(path.join(dir, 'test', name, `v${i}.jpg`), { rgb, seed: 100 + i + (name === 'red' ? 0 : 500) });
  }
  for (let i = 0; i < 2; i++) await writeImage(path.join(dir, 'test', ODD_CLASS, `mislabelled${i}.png`), { rgb: red, seed: 900 + i, format: 'png' });
  return dir;
}

test('escapeHtml escapes the five special characters; the page has no external reference', () => {
  assert.equal(escapeHtml(`<a href="x">&'</a>`), '&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;');
  const html = renderReport({
    title: '<script>alert(1)</script>',
    facts: [['model', 'a & b']],
    metrics: {
      accuracy: 0.5,
      balancedAccuracy: 0.5,
      macroF1: 0.33,
      classes: ['<i>', 'b'],
      perClass: [
        { class: '<i>', precision: 0.5, recall: 1, f1: 0.67, support: 1 },
        { class: 'b', precision: 0, recall: 0, f1: 0, support: 1 },
      ],
      confusionMatrix: [[1, 0], [1, 0]],
      counts: { total: 2, correct: 1 },
    },
    gallery: [{ path: 'b/<x>.jpg', label: 'b', predicted: '<i>', score: 1 }],
    misclassified: 1,
    scoreLabel: 'score: probability',
    scoreKind: 'probability',
    createdAt: 'now',
  });
  assert.ok(!html.includes('<script'), 'title escaped');
  assert.ok(!html.includes('<i>'), 'class names escaped');
  assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(html, /image not found/, 'a missing image gets a placeholder');
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
});

/** A heatmap cell's colours, as red, green and blue bytes. */
interface CellColours {
  count: number;
  background: Rgb;
  text: Rgb;
}

const WHITE: Rgb = [255, 255, 255];
/** The page's ink colour (#1d2330), used on light cells. */
const INK: Rgb = [29, 35, 48];

/**
 * The heatmap's scale: white at share 0 to dark blue rgb(8, 69, 148) at share 1, linear per
 * channel and rounded; white text on cells darker than share 0.5. (The test below pins it to
 * hand-computed values.)
 */
function heatColours(share: number): Omit<CellColours, 'count'> {
  const mix = (from: number, to: number) => Math.round(from + (to - from) * share);
  return { background: [mix(255, 8), mix(255, 69), mix(255, 148)], text: share > 0.5 ? WHITE : INK };
}

/** The colours every cell of `matrix` must have, row by row: each cell's share of its row. */
function expectedHeatmap(matrix: number[][]): CellColours[] {
  return matrix.flatMap((row) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((count) => ({ count, ...heatColours(total > 0 ? count / total : 0) }));
  });
}

/** `rgb(r, g, b)`, `rgb(r,g,b)`, `#rgb` or `#rrggbb` as bytes. */
function parseColour(css: string): Rgb {
  const rgb = /^rgb\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(css.trim());
  if (rgb) return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])];
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(css.trim())?.[1];
  assert.ok(hex, `an opaque rgb() or #hex colour, got "${css}"`);
  const digits = hex.length === 3 ? [...hex].map((d) => d + d) : [hex.slice(0, 2), hex.slice(2, 4), hex.slice(4, 6)];
  return [parseInt(digits[0]!, 16), parseInt(digits[1]!, 16), parseInt(digits[2]!, 16)];
}

/** The heatmap cells of a rendered page as its HTML states them (inline styles), row by row. */
function heatmapOfHtml(html: string): CellColours[] {
  return [...html.matchAll(/<td class="cell(?: diag)?" style="([^"]*)"[^>]*>(\d+)<\/td>/g)].map(([, style = '', count]) => {
    const declared = (property: string) => new RegExp(`(?:^|;)\\s*${property}\\s*:\\s*([^;]+)`).exec(style)?.[1] ?? 'none';
    return { count: Number(count), background: parseColour(declared('background')), text: parseColour(declared('color')) };
  });
}

test('heatmap cells are coloured by their share of the row: white (0) to dark blue (1), white text past one half', () => {
  const blue = (share: number): Rgb => heatColours(share).background;
  // The scale at hand-computed points.
  assert.deepEqual([0, 0.25, 0.5, 0.75, 1].map(blue), [WHITE, [193, 209, 228], [132, 162, 202], [70, 116, 175], [8, 69, 148]]);
  // Rows of a: [4, 0, 0, 0], b: [1, 3, 0, 0], c: [0, 2, 2, 0]; d never occurs (an empty row).
  const yTrue = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2];
  const yPred = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2];
  const metrics = computeMetrics(yTrue, yPred, ['a', 'b', 'c', 'd']);
  const html = renderReport(reportOf(metrics));
  const cells = heatmapOfHtml(html);
  assert.equal(cells.length, 16, '4 × 4 cells');
  const white = { background: WHITE, text: INK };
  const cell = (count: number, share: number, text: Rgb) => ({ count, background: blue(share), text });
  assert.deepEqual(cells, [
    cell(4, 1, WHITE), { count: 0, ...white }, { count: 0, ...white }, { count: 0, ...white },
    cell(1, 0.25, INK), cell(3, 0.75, WHITE), { count: 0, ...white }, { count: 0, ...white },
    { count: 0, ...white }, cell(2, 0.5, INK), cell(2, 0.5, INK), { count: 0, ...white },
    { count: 0, ...white }, { count: 0, ...white }, { count: 0, ...white }, { count: 0, ...white },
  ]);
  assert.deepEqual(cells, expectedHeatmap(metrics.confusionMatrix));
});

/** Inverse of escapeHtml. */
function unescapeHtml(html: string): string {
  return html.replace(/&(lt|gt|quot|#39|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", amp: '&' })[e]!);
}

/** A report of `metrics` with nothing else in it. */
function reportOf(metrics: Metrics): ReportData {
  return { title: 'report', facts: [], metrics, gallery: [], misclassified: 0, scoreLabel: 'score: probability', scoreKind: 'probability', createdAt: 'now' };
}

test('galleryOrder takes the most confident mistake of every class in turn', () => {
  const wrong = [
    { label: 'a', score: 0.9, id: 1 },
    { label: 'a', score: 0.95, id: 2 },
    { label: 'a', score: 0.5, id: 3 },
    { label: 'b', score: 0.6, id: 4 },
    { label: 'c', score: 0.7, id: 5 },
    { label: 'c', score: 0.8, id: 6 },
  ];
  assert.deepEqual(galleryOrder(wrong).map((w) => w.id), [2, 6, 4, 1, 5, 3]);
});

test('run writes report.html; headless Chromium renders the heatmap and the misclassified thumbnails', async (t) => {
  const work = await tempDir(t, 'cnnfeat-report-');
  const model = await makeTinyModel(path.join(work, 'tiny'));
  const dataset = await makeDataset(path.join(work, 'images'));
  const out = path.join(work, 'out');
  const run = await runCli(['run', dataset, '-o', out, '--model', model, '--preprocess', 'none', '--cv', '2', '--json', '--quiet']);
  const metrics = json<Metrics>(run);
  const wrong = metrics.counts.total - metrics.counts.correct;
  assert.ok(wrong >= 2, `the mislabelled images are misclassified (${wrong} wrong)`);

  const reportFile = path.join(out, 'report.html');
  const html = await fsp.readFile(reportFile, 'utf8');
  assert.ok(html.includes(escapeHtml(ODD_CLASS)) && !html.includes(ODD_CLASS), 'class names are escaped');
  assert.match(html, /<table id="cv">/, 'the CV table is in the report');
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, 'no external resources');

  // eval --report writes the same kind of page from a classifier and a feature directory.
  const evalReport = path.join(work, 'eval-report.html');
  const ev = await runCli(['eval', path.join(out, 'model.json'), path.join(out, 'test'), '--report', evalReport, '--quiet']);
  assert.equal(ev.code, 0, ev.stderr);
  assert.match(await fsp.readFile(evalReport, 'utf8'), /<div class="gallery" id="gallery">/);

  // An svc without probabilities: the gallery shows decision values and is ordered by them.
  const svc = path.join(work, 'svc.json');
  json(await runCli(['train', path.join(out, 'train'), '-o', svc, '--kernel', 'linear', '--json', '--quiet']));
  const svcReport = path.join(work, 'svc-report.html');
  const svcEval = await runCli(['eval', svc, path.join(out, 'test'), '--report', svcReport, '--quiet']);
  assert.equal(svcEval.code, 0, svcEval.stderr);
  const svcHtml = await fsp.readFile(svcReport, 'utf8');
  assert.match(svcHtml, /true → predicted · score: decision value \(/);
  const captions = [...svcHtml.matchAll(/<span class="t">([^<]*)<\/span> → <span class="p">[^<]*<\/span> · (\S+)<br><span class="f">([^<]*)<\/span>/g)].map((m) => ({ label: unescapeHtml(m[1]!), shown: m[2]!, path: unescapeHtml(m[3]!) }));
  assert.ok(captions.length >= 2, `mistakes in the gallery: ${captions.length}`);
  const imageRoot = (await manifestOf(path.join(out, 'test'))).imageRoot;
  const predicted = json<{ path: string; score: number; scoreKind: ScoreKind }[]>(await runCli(['predict', svc, ...captions.map((c) => path.join(imageRoot, c.path)), '--json', '--quiet']));
  const scored = captions.map((c, i) => ({ ...c, score: predicted[i]!.score }));
  captions.forEach((c, i) => assert.equal(c.shown, formatScore(predicted[i]!.score, predicted[i]!.scoreKind), `${c.path}: the caption shows its decision value`));
  assert.ok(new Set(scored.map((c) => c.score)).size > 1, 'the mistakes have different scores');
  for (const label of new Set(scored.map((c) => c.label))) {
    const ofClass = scored.filter((c) => c.label === label).map((c) => c.score);
    assert.deepEqual(ofClass, [...ofClass].sort((a, b) => b - a), `${label}: most confident mistakes first`);
  }

  if (!existsSync(CHROMIUM)) {
    t.skip(`no Chromium at ${CHROMIUM} (install the Debian package chromium, or set CHROMIUM_PATH)`);
    return;
  }
  const { chromium } = await import('playwright-core');
  const userDataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'cnnfeat-chromium-'));
  t.after(() => fsp.rm(userDataDir, { recursive: true, force: true }));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    viewport: { width: 1200, height: 900 },
  });
  t.after(() => context.close());
  const page = await context.newPage();
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(pathToFileURL(reportFile).href, { waitUntil: 'load' });

  const cells = await page.$$('#confusion td.cell');
  assert.equal(cells.length, 4, '2 × 2 heatmap');
  for (const cell of cells) {
    const box = await cell.boundingBox();
    assert.ok(box && box.width > 0 && box.height > 0, `heatmap cell has a box: ${JSON.stringify(box)}`);
  }
  // The colours the browser paints, not only those the HTML states: a stylesheet rule could override them.
  const painted = await page.$$eval('#confusion td.cell', (tds) =>
    tds.map((td) => ({ count: Number(td.textContent), background: getComputedStyle(td).backgroundColor, text: getComputedStyle(td).color })),
  );
  const expected = expectedHeatmap(metrics.confusionMatrix);
  assert.ok(new Set(expected.map((c) => c.background.join())).size >= 3, `the run's matrix has varied row shares: ${JSON.stringify(metrics.confusionMatrix)}`);
  assert.deepEqual(
    painted.map((c) => ({ count: c.count, background: parseColour(c.background), text: parseColour(c.text) })),
    expected,
    'every cell painted in the colour of its share of the row',
  );

  const images = await page.$$eval('#gallery img', (els) =>
    els.map((img) => ({
      complete: img instanceof HTMLImageElement && img.complete,
      naturalWidth: img instanceof HTMLImageElement ? img.naturalWidth : 0,
      w: img.getBoundingClientRect().width,
      h: img.getBoundingClientRect().height,
    })),
  );
  assert.equal(images.length, wrong, 'one thumbnail per misclassified image');
  for (const img of images) {
    assert.ok(img.complete && img.naturalWidth > 0, `thumbnail decoded: ${JSON.stringify(img)}`);
    assert.ok(img.w > 0 && img.h > 0, `thumbnail has a box: ${JSON.stringify(img)}`);
  }
  assert.deepEqual(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:')), [], 'the page loads nothing from the network');

  await fsp.mkdir(OUTPUT_DIR, { recursive: true });
  const screenshot = path.join(OUTPUT_DIR, 'report.png');
  await page.screenshot({ path: screenshot, fullPage: true });
  assert.ok((await fsp.stat(screenshot)).size > 0);
  t.diagnostic(`report screenshot: ${screenshot}`);
});
