/**
 * Plain-text tables for the terminal: a header, a rule, aligned columns. No box drawing,
 * so the output pastes cleanly into issues and logs.
 */

export type Align = 'left' | 'right';

export interface Column {
  header: string;
  align?: Align;
}

/** Lays out rows of cells (already formatted) under their headers, two spaces between columns. */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, j) => Math.max(width(c.header), ...rows.map((r) => width(r[j] ?? ''))));
  const cell = (text: string, j: number) => {
    const pad = ' '.repeat(widths[j] - width(text));
    return (columns[j].align ?? 'right') === 'left' ? text + pad : pad + text;
  };
  const line = (cells: readonly string[]) => columns.map((_, j) => cell(cells[j] ?? '', j)).join('  ').trimEnd();
  return [line(columns.map((c) => c.header)), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Display width, counting code points (model names may hold non-ASCII letters). */
function width(s: string): number {
  return [...s].length;
}

/** A metric value with a sensible number of digits; '' for absent, 'NaN' kept visible. */
export function formatMetric(v: number | undefined | null, digits = 4): string {
  if (v === undefined || v === null) return '';
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  return v.toFixed(digits);
}

/** Seconds as '0.42s', '12.3s', '4m05s', '1h02m'. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 10) return `${seconds.toFixed(2)}s`;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** 1234567 → '1.23M', 81234 → '81.2k'. */
export function formatRate(v: number): string {
  if (!Number.isFinite(v)) return '?';
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return v.toFixed(0);
}

/** One CSV field (RFC 4180): quoted when it holds a quote, comma or line break. */
export function csvField(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}
