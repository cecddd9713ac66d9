/**
 * Learning curves as a standalone SVG 1.1 file: one panel per quantity (training loss,
 * each monitored validation metric), one polyline per model, shared colours and one
 * legend. Self-contained (generic font family, no scripts, no external references), so a
 * browser or an image viewer opens it as is.
 *
 * Non-finite values (a diverged loss, a NaN metric) are left out: a series' polyline is
 * broken at them rather than drawn through a made-up point, and no coordinate in the file
 * is ever NaN or infinite.
 */

export interface Series {
  name: string;
  /** (x, y) points; non-finite ones are skipped. */
  points: readonly (readonly [number, number])[];
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
}

export interface PlotOptions {
  title?: string;
  /** Size of one panel in px (default 420 × 300). */
  panelWidth?: number;
  panelHeight?: number;
  /** Panels per row (default 2). */
  columns?: number;
  /** Series names in legend (and colour) order; names not listed follow in order of appearance. */
  order?: readonly string[];
}

/** Colour-blind-friendly categorical palette (Okabe–Ito, then Tableau extras). */
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#000000', '#8C564B', '#7F7F7F', '#BCBD22', '#17BECF'];

/** Escapes text for XML content and attribute values. */
export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A coordinate with at most two decimals and never "-0". */
function num(v: number): string {
  const r = Math.round(v * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

/** "Nice" tick positions covering [lo, hi] (steps of 1, 2 or 5 × 10^n), about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(Number.isFinite(lo) && Number.isFinite(hi))) return [];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  const first = Math.ceil(lo / step - 1e-9);
  for (let i = first; i * step <= hi + step * 1e-9; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

/** Tick label: as few digits as tell neighbouring ticks apart. */
function tickLabel(v: number, step: number): string {
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs >= 1e5 || abs < 1e-4) return v.toExponential(1);
  const decimals = step > 0 ? Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9))) : 2;
  return v.toFixed(decimals);
}

/** Finite range of values, widened when empty or flat so a scale exists. */
function range(values: number[], integerPad: boolean): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return [0, 1];
  if (lo === hi) {
    const pad = integerPad ? 1 : Math.abs(lo) * 0.1 || 1;
    return [lo - pad, hi + pad];
  }
  if (!integerPad) {
    const pad = (hi - lo) * 0.05;
    return [lo - pad, hi + pad];
  }
  return [lo, hi];
}

/** Splits a series at non-finite points into runs that can each be one polyline. */
function finiteRuns(points: Series['points']): [number, number][][] {
  const runs: [number, number][][] = [];
  let run: [number, number][] = [];
  for (const [x, y] of points) {
    if (Number.isFinite(x) && Number.isFinite(y)) run.push([x, y]);
    else if (run.length) {
      runs.push(run);
      run = [];
    }
  }
  if (run.length) runs.push(run);
  return runs;
}

function renderPanel(p: Panel, x0: number, y0: number, w: number, h: number, colorOf: (name: string) => string, clipId: string): string {
  const m = { left: 58, right: 14, top: 28, bottom: 42 };
  const pw = w - m.left - m.right;
  const ph = h - m.top - m.bottom;
  const xs = p.series.flatMap((s) => s.points.filter(([, y]) => Number.isFinite(y)).map(([x]) => x));
  const ys = p.series.flatMap((s) => s.points.filter(([x]) => Number.isFinite(x)).map(([, y]) => y));
  const [xlo, xhi] = range(xs, true);
  const [ylo, yhi] = range(ys, false);
  const sx = (x: number) => x0 + m.left + ((x - xlo) / (xhi - xlo)) * pw;
  const sy = (y: number) => y0 + m.top + ph - ((y - ylo) / (yhi - ylo)) * ph;
  const out: string[] = [];
  out.push(`<g class="panel">`);
  out.push(`<text x="${num(x0 + m.left + pw / 2)}" y="${num(y0 + 18)}" text-anchor="middle" font-size="13" font-weight="bold">${xmlEscape(p.title)}</text>`);
  out.push(`<rect x="${num(x0 + m.left)}" y="${num(y0 + m.top)}" width="${num(pw)}" height="${num(ph)}" fill="#ffffff" stroke="#444444" stroke-width="1"/>`);
  // Integer epochs: ticks at whole numbers only.
  const xticks = niceTicks(xlo, xhi, Math.min(8, Math.max(1, Math.round(xhi - xlo)))).filter((t) => Number.isInteger(t));
  const yticks = niceTicks(ylo, yhi, 5).filter((t) => t >= ylo && t <= yhi);
  const ystep = yticks.length > 1 ? yticks[1] - yticks[0] : Math.abs(yticks[0] ?? 1) || 1;
  for (const t of xticks) {
    const x = num(sx(t));
    out.push(`<line x1="${x}" y1="${num(y0 + m.top + ph)}" x2="${x}" y2="${num(y0 + m.top + ph + 5)}" stroke="#444444" stroke-width="1"/>`);
    out.push(`<text x="${x}" y="${num(y0 + m.top + ph + 17)}" text-anchor="middle" font-size="11">${t}</text>`);
  }
  for (const t of yticks) {
    const y = num(sy(t));
    out.push(`<line x1="${num(x0 + m.left)}" y1="${y}" x2="${num(x0 + m.left + pw)}" y2="${y}" stroke="#e6e6e6" stroke-width="1"/>`);
    out.push(`<line x1="${num(x0 + m.left - 5)}" y1="${y}" x2="${num(x0 + m.left)}" y2="${y}" stroke="#444444" stroke-width="1"/>`);
    out.push(`<text x="${num(x0 + m.left - 8)}" y="${num(sy(t) + 4)}" text-anchor="end" font-size="11">${xmlEscape(tickLabel(t, ystep))}</text>`);
  }
  out.push(`<text x="${num(x0 + m.left + pw / 2)}" y="${num(y0 + h - 8)}" text-anchor="middle" font-size="12">${xmlEscape(p.xLabel)}</text>`);
  const ly = y0 + m.top + ph / 2;
  out.push(`<text x="${num(x0 + 14)}" y="${num(ly)}" text-anchor="middle" font-size="12" transform="rotate(-90 ${num(x0 + 14)} ${num(ly)})">${xmlEscape(p.yLabel)}</text>`);
  out.push(`<defs><clipPath id="${clipId}"><rect x="${num(x0 + m.left - 3)}" y="${num(y0 + m.top - 3)}" width="${num(pw + 6)}" height="${num(ph + 6)}"/></clipPath></defs>`);
  out.push(`<g clip-path="url(#${clipId})">`);
  for (const s of p.series) {
    const color = colorOf(s.name);
    const runs = finiteRuns(s.points);
    const total = runs.reduce((n, r) => n + r.length, 0);
    for (const run of runs) {
      const pts = run.map(([x, y]) => `${num(sx(x))},${num(sy(y))}`).join(' ');
      out.push(`<polyline class="series" data-series="${xmlEscape(s.name)}" points="${pts}" fill="none" stroke="${color}" stroke-width="2" stroke-linejoin="round"/>`);
    }
    // Markers keep a lone point (one epoch, or a point between gaps) visible.
    if (total <= 60) for (const run of runs) for (const [x, y] of run) out.push(`<circle cx="${num(sx(x))}" cy="${num(sy(y))}" r="2.5" fill="${color}"/>`);
  }
  out.push('</g>');
  if (p.series.every((s) => finiteRuns(s.points).length === 0)) {
    out.push(`<text x="${num(x0 + m.left + pw / 2)}" y="${num(y0 + m.top + ph / 2)}" text-anchor="middle" font-size="12" fill="#888888">no finite values</text>`);
  }
  out.push('</g>');
  return out.join('\n');
}

/** Renders panels side by side (wrapping after `columns`) with one shared legend underneath. */
export function renderCurvesSvg(panels: readonly Panel[], opts: PlotOptions = {}): string {
  const pw = opts.panelWidth ?? 420;
  const phgt = opts.panelHeight ?? 300;
  const cols = Math.max(1, Math.min(opts.columns ?? 2, panels.length || 1));
  const rows = Math.max(1, Math.ceil(panels.length / cols));
  const names: string[] = [];
  for (const n of opts.order ?? []) if (panels.some((p) => p.series.some((s) => s.name === n)) && !names.includes(n)) names.push(n);
  for (const p of panels) for (const s of p.series) if (!names.includes(s.name)) names.push(s.name);
  const colorOf = (name: string) => PALETTE[names.indexOf(name) % PALETTE.length];
  const titleH = opts.title ? 30 : 0;
  const legendPerRow = Math.max(1, Math.floor((cols * pw - 20) / 160));
  const legendH = names.length ? Math.ceil(names.length / legendPerRow) * 20 + 14 : 0;
  const W = cols * pw;
  const H = titleH + rows * phgt + legendH;
  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8" standalone="no"?>');
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`);
  out.push(`<title>${xmlEscape(opts.title ?? 'learning curves')}</title>`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  if (opts.title) out.push(`<text x="${num(W / 2)}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${xmlEscape(opts.title)}</text>`);
  panels.forEach((p, i) => {
    out.push(renderPanel(p, (i % cols) * pw, titleH + Math.floor(i / cols) * phgt, pw, phgt, colorOf, `clip${i}`));
  });
  if (names.length) {
    out.push('<g class="legend">');
    const top = titleH + rows * phgt + 6;
    names.forEach((name, i) => {
      const x = 20 + (i % legendPerRow) * 160;
      const y = top + Math.floor(i / legendPerRow) * 20 + 8;
      out.push(`<line x1="${x}" y1="${y}" x2="${x + 22}" y2="${y}" stroke="${colorOf(name)}" stroke-width="3"/>`);
      out.push(`<text x="${x + 28}" y="${y + 4}" font-size="12">${xmlEscape(name)}</text>`);
    });
    out.push('</g>');
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
