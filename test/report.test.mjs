// The HTML report: written by `run` and `eval --report`, self-contained, and rendered by a
// real browser (headless Chromium through playwright-core).
import assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { escapeHtml, renderReport } from '../dist/report/html.js';
import { galleryOrder } from '../dist/report/report.js';
import { makeTinyModel, ROOT, runCli, tempDir, writeImage } from './helpers.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUTPUT_DIR = path.join(ROOT, 'test-output');
const ODD_CLASS = 'blue <b>&"x\'';

/**
 * train/ and test/ of two colour classes (one with HTML-special characters in its name);
 * two red images are filed under the blue class in test/, so they are misclassified.
 */
async function makeDataset(dir) {
  const colours = { red: [210, 40, 40], [ODD_CLASS]: [40, 60, 210] };
  for (const [name, rgb] of Object.entries(colours)) {
    for (let i = 0; i < 8; i++) await writeImage(path.join(dir, 'train', name, `t${i}.jpg`), { rgb, seed: i + (name === 'red' ? 0 : 500) });
    for (let i = 0; i < 3; i++) await writeImage(path.join(dir, 'test', name, `v${i}.jpg`), { rgb, seed: 100 + i + (name === 'red' ? 0 : 500) });
  }
  for (let i = 0; i < 2; i++) await writeImage(path.join(dir, 'test', ODD_CLASS, `mislabelled${i}.png`), { rgb: colours.red, seed: 900 + i, format: 'png' });
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
    scoreLabel: 'votes',
    createdAt: 'now',
  });
  assert.ok(!html.includes('<script'), 'title escaped');
  assert.ok(!html.includes('<i>'), 'class names escaped');
  assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(html, /image not found/, 'a missing image gets a placeholder');
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
});

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
  assert.equal(run.code, 0, run.stderr);
  const metrics = JSON.parse(run.stdout);
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
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(pathToFileURL(reportFile).href, { waitUntil: 'load' });

  const cells = await page.$$('#confusion td.cell');
  assert.equal(cells.length, 4, '2 × 2 heatmap');
  for (const cell of cells) {
    const box = await cell.boundingBox();
    assert.ok(box && box.width > 0 && box.height > 0, `heatmap cell has a box: ${JSON.stringify(box)}`);
  }
  const background = await cells[0].evaluate((el) => getComputedStyle(el).backgroundColor);
  assert.match(background, /^rgb/, 'cells are coloured');

  const images = await page.$$eval('#gallery img', (els) =>
    els.map((img) => ({ complete: img.complete, naturalWidth: img.naturalWidth, w: img.getBoundingClientRect().width, h: img.getBoundingClientRect().height })),
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
