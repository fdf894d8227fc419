/**
 * The evaluation report as ONE self-contained HTML page: inline CSS, no script, no network
 * (thumbnails are data URIs). Every text that comes from data (class names, paths, settings)
 * goes through {@link escapeHtml}.
 */
import { describeValidation, pointColumns, rankedResults } from '../classifiers/selection/table.js';
import type { ModelSelection } from '../classifiers/selection/types.js';
import type { Metrics } from '../metrics/metrics.js';
import { formatScore, type ScoreKind } from '../classifiers/common/scores.js';

/** One misclassified test image in the gallery. */
export interface GalleryItem {
  /** Path shown under the thumbnail (relative to the image root). */
  path: string;
  label: string;
  predicted: string;
  /** The classifier's score of the predicted class (see {@link ReportData.scoreLabel}). */
  score: number;
  /** `data:image/jpeg;base64,…`, or undefined when the image could not be read any more. */
  thumbnail?: string;
}

/** Everything a report shows. */
export interface ReportData {
  title: string;
  /** Short provenance lines (model, features, classifier settings), shown under the title. */
  facts: [string, string][];
  metrics: Metrics;
  selection?: ModelSelection;
  gallery: GalleryItem[];
  /** Total number of misclassified images (the gallery may show fewer). */
  misclassified: number;
  /** What the gallery's `score` means, shown above it (e.g. `score: probability (softmax)`). */
  scoreLabel: string;
  /** Whether scores are probabilities or decision values (how they are printed). */
  scoreKind: ScoreKind;
  createdAt: string;
}

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#1d2330;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde2ea;padding-bottom:4px}
.facts{color:#556;font-size:12.5px;margin:0 0 12px}.facts span{margin-right:14px;white-space:nowrap}
.headline{display:flex;flex-wrap:wrap;gap:12px}.stat{border:1px solid #dde2ea;border-radius:8px;padding:10px 16px;min-width:150px}
.stat b{display:block;font-size:26px}.stat small{color:#667}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}th,td{padding:3px 8px;text-align:right;border-bottom:1px solid #eef0f4}
th:first-child,td:first-child,th.l,td.l{text-align:left}thead th{background:#f5f7fa}
table.cm td.cell{width:44px;height:32px;text-align:center;border:1px solid #fff;padding:0}
table.cm th.pred{writing-mode:vertical-rl;transform:rotate(180deg);height:90px;vertical-align:bottom;text-align:left;font-weight:normal}
table.cm td.diag{outline:2px solid #1d2330;outline-offset:-2px}
.axis{color:#667;font-size:12px}
tr.best td{font-weight:bold;background:#eef8ee}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:10px}
figure{margin:0;border:1px solid #dde2ea;border-radius:6px;padding:6px;text-align:center;font-size:12px}
figure img{width:112px;height:112px;object-fit:cover;display:block;margin:0 auto 4px;border-radius:4px}
figure .missing{width:112px;height:112px;margin:0 auto 4px;background:#f2f2f2;color:#999;display:flex;align-items:center;justify-content:center}
figcaption .t{color:#1b7f3b}figcaption .p{color:#b3261e}figcaption .f{color:#778;word-break:break-all}
.note{color:#667;font-size:12.5px}
`;

/** A blue scale from white (0) to dark blue (1) for heatmap cells, with readable text colour. */
function heatColour(fraction: number): { bg: string; fg: string } {
  const f = Math.max(0, Math.min(1, fraction));
  const mix = (a: number, b: number) => Math.round(a + (b - a) * f);
  return { bg: `rgb(${mix(255, 8)},${mix(255, 69)},${mix(255, 148)})`, fg: f > 0.5 ? '#fff' : '#1d2330' };
}

function headline(m: Metrics): string {
  const stat = (value: string, label: string) => `<div class="stat"><b>${value}</b><small>${label}</small></div>`;
  return `<div class="headline">${[
    stat(pct(m.accuracy), `accuracy (${m.counts.correct}/${m.counts.total})`),
    stat(pct(m.balancedAccuracy), 'balanced accuracy'),
    stat(pct(m.macroF1), 'macro F1'),
    stat(String(m.classes.length), 'classes'),
  ].join('')}</div>`;
}

/** Confusion-matrix heatmap, coloured by row-normalised share (recall on the diagonal). */
function confusionHeatmap(m: Metrics): string {
  const head = m.classes.map((c) => `<th class="pred" title="${escapeHtml(c)}">${escapeHtml(c)}</th>`).join('');
  const rows = m.confusionMatrix
    .map((row, t) => {
      const total = row.reduce((a, b) => a + b, 0);
      const cells = row
        .map((count, p) => {
          const share = total > 0 ? count / total : 0;
          const { bg, fg } = heatColour(share);
          const title = `true ${m.classes[t]} → predicted ${m.classes[p]}: ${count} (${pct(share)} of row)`;
          return `<td class="cell${t === p ? ' diag' : ''}" style="background:${bg};color:${fg}" title="${escapeHtml(title)}">${count}</td>`;
        })
        .join('');
      return `<tr><th scope="row">${escapeHtml(m.classes[t]!)}</th>${cells}</tr>`;
    })
    .join('\n');
  return `<p class="axis">rows: true class · columns: predicted class · colour: share of the row</p>
<table class="cm" id="confusion"><thead><tr><th></th>${head}</tr></thead><tbody>
${rows}
</tbody></table>`;
}

function perClassTable(m: Metrics): string {
  const rows = m.perClass
    .map((c) => `<tr><td>${escapeHtml(c.class)}</td><td>${c.precision.toFixed(3)}</td><td>${c.recall.toFixed(3)}</td><td>${c.f1.toFixed(3)}</td><td>${c.support}</td></tr>`)
    .join('\n');
  return `<table id="per-class"><thead><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr></thead><tbody>
${rows}
</tbody></table>`;
}

function selectionTable(s: ModelSelection): string {
  const order = rankedResults(s).map(({ result, index }) => ({ r: result, i: index }));
  const rows = order
    .map(({ r, i }) => {
      const p = pointColumns(r.params);
      const cells = [p.classifier, p.kernel, p.C, p.gamma, p.scale].map((v, c) => `<td${c === 2 ? '' : ' class="l"'}>${escapeHtml(v)}</td>`).join('');
      return `<tr${i === s.best ? ' class="best"' : ''}><td>${r.rank}</td>${cells}<td>${r.mean.toFixed(4)} ± ${r.std.toFixed(4)}</td><td>${r.folds.map((f) => f.toFixed(3)).join(' ')}</td><td>${Math.round(r.fitSeconds * 1000)}</td></tr>`;
    })
    .join('\n');
  return `<p class="note">${escapeHtml(describeValidation(s))} on the training features only (seed ${s.seed}), scored by ${escapeHtml(s.scoring.replace('_', ' '))}; the best setting (bold) was refitted on all training rows. ${s.results.length} settings in ${s.seconds.toFixed(1)} s.</p>
<table id="cv"><thead><tr><th>rank</th><th class="l">classifier</th><th class="l">kernel</th><th>C</th><th class="l">gamma</th><th class="l">scale</th><th>mean ± std</th><th>per fold</th><th>fit ms</th></tr></thead><tbody>
${rows}
</tbody></table>`;
}

function galleryHtml(data: ReportData): string {
  if (data.misclassified === 0) return '<p class="note">No test image was misclassified.</p>';
  const shown = data.gallery.length;
  const note =
    shown < data.misclassified
      ? `Showing ${shown} of ${data.misclassified} misclassified test images: each true class's most confident mistakes, in turn.`
      : `All ${data.misclassified} misclassified test images, each true class's most confident first, in turn.`;
  const items = data.gallery
    .map((g) => {
      const img = g.thumbnail
        ? `<img src="${g.thumbnail}" alt="${escapeHtml(g.path)}">`
        : '<div class="missing">image not found</div>';
      return `<figure>${img}<figcaption><span class="t">${escapeHtml(g.label)}</span> → <span class="p">${escapeHtml(g.predicted)}</span> · ${formatScore(g.score, data.scoreKind)}<br><span class="f">${escapeHtml(g.path)}</span></figcaption></figure>`;
    })
    .join('\n');
  return `<p class="note">${note} true → predicted · ${escapeHtml(data.scoreLabel)}</p>
<div class="gallery" id="gallery">
${items}
</div>`;
}

/**
 * Renders the report page.
 * @returns a complete HTML document with no external references
 */
export function renderReport(data: ReportData): string {
  const facts = data.facts.map(([k, v]) => `<span><b>${escapeHtml(k)}:</b> ${escapeHtml(v)}</span>`).join(' ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(data.title)}</title><style>${CSS}</style></head>
<body>
<h1>${escapeHtml(data.title)}</h1>
<p class="facts">${facts} <span><b>created:</b> ${escapeHtml(data.createdAt)}</span></p>
${headline(data.metrics)}
<h2>Confusion matrix</h2>
${confusionHeatmap(data.metrics)}
<h2>Per class</h2>
${perClassTable(data.metrics)}
${data.selection ? `<h2>Model selection</h2>\n${selectionTable(data.selection)}` : ''}
<h2>Misclassified test images</h2>
${galleryHtml(data)}
</body></html>
`;
}
