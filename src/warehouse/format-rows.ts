/**
 * Query results for people and for programs: an aligned text table, CSV
 * (RFC 4180 quoting) or JSON. Values arrive JSON-safe from DuckDB.
 */
import type { Row } from './sql.js';

export type RowFormat = 'table' | 'csv' | 'json';

export const ROW_FORMATS: readonly RowFormat[] = ['table', 'csv', 'json'];

export function formatRows(columns: string[], rows: Row[], format: RowFormat): string {
  if (format === 'json') return `${JSON.stringify(rows, null, 2)}\n`;
  if (format === 'csv') {
    const lines = [
      columns.map(csvCell).join(','),
      ...rows.map((row) => columns.map((c) => csvCell(row[c])).join(',')),
    ];
    return `${lines.join('\n')}\n`;
  }
  const cells = rows.map((row) => columns.map((c) => textCell(row[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => (r[i] as string).length)));
  const line = (values: string[]): string =>
    values
      .map((v, i) => (isNumeric(v) ? v.padStart(widths[i] as number) : v.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  const out = [line(columns), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)];
  out.push(`(${rows.length} row${rows.length === 1 ? '' : 's'})`);
  return `${out.join('\n')}\n`;
}

function textCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : formatFloat(value);
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Four significant digits after the point is plenty to read; CSV and JSON keep every digit. */
function formatFloat(value: number): string {
  return Math.abs(value) >= 1000 ? value.toFixed(1) : Number(value.toPrecision(6)).toString();
}

function isNumeric(text: string): boolean {
  return text !== '' && !Number.isNaN(Number(text));
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
