/**
 * Plain-text rendering of {@link Metrics}: headline scores, a per-class table and a
 * confusion matrix, with aligned columns and optional ANSI colour.
 */
import type { Metrics } from './metrics.js';

/** Options of {@link formatMetrics}. */
export interface FormatOptions {
  /** Show the confusion matrix as row-normalised percentages (each true class sums to 100%). */
  normalize?: boolean;
  /** Use ANSI colours; the caller decides (e.g. from NO_COLOR / FORCE_COLOR and isTTY). */
  color?: boolean;
}

/** Column headers of the confusion matrix longer than this are shortened with an ellipsis. */
const MAX_HEADER_WIDTH = 12;

type Style = 'bold' | 'dim' | 'good' | 'bad';
type Align = 'left' | 'right';

/** One table cell: its visible text and an optional style. */
interface Cell {
  text: string;
  style?: Style;
}

const ANSI: Record<Style, string> = {
  bold: '\x1b[1m',
  dim: '\x1b[2m',
  good: '\x1b[32m',
  bad: '\x1b[31m',
};
const RESET = '\x1b[0m';

/** Visible width of a string, counting code points (not UTF-16 units). */
export function textWidth(s: string): number {
  return Array.from(s).length;
}

/** Pads `s` to `width` visible characters on the side given by `align`. */
function pad(s: string, width: number, align: Align): string {
  const fill = ' '.repeat(Math.max(0, width - textWidth(s)));
  return align === 'left' ? s + fill : fill + s;
}

/** Wraps `s` in the ANSI codes of `style` when colour is on. */
function paint(s: string, style: Style | undefined, color: boolean): string {
  return color && style ? `${ANSI[style]}${s}${RESET}` : s;
}

/** Shortens `s` to at most `max` visible characters, ending with an ellipsis when cut. */
function truncate(s: string, max: number): string {
  const chars = Array.from(s);
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('')}…`;
}

/**
 * Renders rows of cells as aligned columns separated by two spaces; widths are computed
 * on the visible text so colour codes never break the alignment. Trailing spaces are trimmed.
 * @param rows table rows (the first is usually a header)
 * @param align alignment of each column
 * @param color whether to emit ANSI colour
 */
export function renderTable(rows: Cell[][], align: Align[], color: boolean): string[] {
  const widths = align.map((_, c) => Math.max(0, ...rows.map((r) => textWidth(r[c]?.text ?? ''))));
  return rows.map((row) =>
    row
      .map((cell, c) => paint(pad(cell.text, widths[c], align[c] ?? 'left'), cell.style, color))
      .join('  ')
      .trimEnd(),
  );
}

/** A score in [0, 1] with 4 decimals. */
function score(x: number): string {
  return x.toFixed(4);
}

/** Headline lines: accuracy (with counts), balanced accuracy, macro F1. */
function headline(m: Metrics, color: boolean): string[] {
  const rows: Cell[][] = [
    [{ text: 'Accuracy' }, { text: score(m.accuracy), style: 'bold' }, { text: `(${m.counts.correct}/${m.counts.total})` }],
    [{ text: 'Balanced accuracy' }, { text: score(m.balancedAccuracy), style: 'bold' }, { text: '' }],
    [{ text: 'Macro F1' }, { text: score(m.macroF1), style: 'bold' }, { text: '' }],
  ];
  return renderTable(rows, ['left', 'right', 'left'], color);
}

/** Per-class table: class, precision, recall, F1, support. */
function perClassTable(m: Metrics, color: boolean): string[] {
  const header = ['class', 'precision', 'recall', 'f1', 'support'].map((text): Cell => ({ text, style: 'bold' }));
  const rows = m.perClass.map((c): Cell[] => [
    { text: c.class },
    { text: score(c.precision) },
    { text: score(c.recall) },
    { text: score(c.f1) },
    { text: String(c.support), style: c.support === 0 ? 'dim' : undefined },
  ]);
  return renderTable([header, ...rows], ['left', 'right', 'right', 'right', 'right'], color);
}

/** Text of one confusion-matrix cell: a count, or a row percentage ('-' for an empty row). */
function matrixCellText(count: number, rowTotal: number, normalize: boolean): string {
  if (!normalize) return String(count);
  return rowTotal === 0 ? '-' : `${((100 * count) / rowTotal).toFixed(1)}%`;
}

/** Style of a confusion-matrix cell: correct predictions green, errors red, zeros dim. */
function matrixCellStyle(count: number, isDiagonal: boolean): Style {
  if (count === 0) return 'dim';
  return isDiagonal ? 'good' : 'bad';
}

/** Confusion matrix with class names as row and column headers. */
function confusionTable(m: Metrics, normalize: boolean, color: boolean): string[] {
  const header: Cell[] = [
    { text: 'true \\ pred', style: 'bold' },
    ...m.classes.map((c): Cell => ({ text: truncate(c, MAX_HEADER_WIDTH), style: 'bold' })),
  ];
  const rows = m.confusionMatrix.map((counts, t): Cell[] => {
    const total = counts.reduce((a, b) => a + b, 0);
    return [
      { text: m.classes[t], style: 'bold' },
      ...counts.map((n, p): Cell => ({ text: matrixCellText(n, total, normalize), style: matrixCellStyle(n, t === p) })),
    ];
  });
  const align: Align[] = ['left', ...m.classes.map((): Align => 'right')];
  return renderTable([header, ...rows], align, color);
}

/**
 * Formats metrics as a readable multi-line text report (no trailing newline):
 * headline accuracy / balanced accuracy / macro F1, a per-class table and the confusion
 * matrix (rows = true class, columns = predicted), all column-aligned.
 * @param m metrics from `computeMetrics`
 * @param opts `normalize` shows row percentages instead of counts; `color` adds ANSI colour
 */
export function formatMetrics(m: Metrics, opts: FormatOptions = {}): string {
  const color = opts.color === true;
  const normalize = opts.normalize === true;
  const title = (s: string) => paint(s, 'bold', color);
  const matrixTitle = `Confusion matrix (rows = true, columns = predicted${normalize ? ', % of each true class' : ''})`;
  return [
    ...headline(m, color),
    '',
    title('Per class'),
    ...perClassTable(m, color),
    '',
    title(matrixTitle),
    ...confusionTable(m, normalize, color),
  ].join('\n');
}
