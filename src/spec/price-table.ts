/**
 * A price table file (spec.cost.priceTable, docs/cost.md): YAML or JSON mapping each GPU type
 * to its price in USD per GPU-hour (`H100: 2.49`). Read bounded, checked whole: every bad
 * entry is reported at once with the file, the entry and what was expected (exit 2), and the
 * job's serviceMetadata.gpuType must have a price in it.
 */
import { parse } from 'yaml';
import { ValidationError, type ValidationIssue } from '../base/errors.js';
import type { BenchmarkJobSpec } from './job-schema.js';
import { MAX_COST_PER_HOUR_USD } from './job-limits.js';
import { readBoundedText } from './bounded-file.js';

/** A price table is a short list; a larger file is not one. */
export const MAX_PRICE_TABLE_BYTES = 256 * 1024;
export const MAX_PRICE_TABLE_ENTRIES = 1000;

/** Reads and checks the job's price table, when it names one; null otherwise. */
export async function loadJobPriceTable(
  spec: Pick<BenchmarkJobSpec, 'cost' | 'serviceMetadata' | 'costPerHourUsd'>,
  jobFile: string | null,
): Promise<Record<string, number> | null> {
  const path = spec.cost?.priceTable;
  // costPerHourUsd and gpuHourUsd come first: the table is not read when it would not be used.
  if (!path || spec.costPerHourUsd !== undefined || spec.cost?.gpuHourUsd !== undefined) return null;
  const table = await readPriceTable(path);
  const type = spec.serviceMetadata?.gpuType;
  if (type !== undefined && table[type] === undefined) {
    throw new ValidationError([
      {
        file: jobFile ?? 'command line',
        path: 'spec.serviceMetadata.gpuType',
        value: type,
        message: `the price table ${path} has no price for it (it lists ${Object.keys(table).join(', ') || 'nothing'})`,
      },
    ]);
  }
  return table;
}

/** Reads a price table file; every problem in it at once. */
export async function readPriceTable(path: string): Promise<Record<string, number>> {
  const text = await readBounded(path);
  let value: unknown;
  try {
    value = parse(text, { maxAliasCount: 0 });
  } catch (error) {
    throw new ValidationError([
      { file: path, path: '', message: `not valid YAML or JSON: ${(error as Error).message.split('\n')[0]}` },
    ]);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ValidationError([
      {
        file: path,
        path: '',
        message: 'expected a mapping of GPU type to USD per GPU-hour, e.g. "H100: 2.49"',
      },
    ]);
  }
  const entries = Object.entries(value as Record<string, unknown>);
  const issues: ValidationIssue[] = [];
  if (entries.length > MAX_PRICE_TABLE_ENTRIES)
    issues.push({ file: path, path: '', message: `expected at most ${MAX_PRICE_TABLE_ENTRIES} GPU types` });
  const table: Record<string, number> = {};
  for (const [type, price] of entries.slice(0, MAX_PRICE_TABLE_ENTRIES)) {
    if (typeof price !== 'number' || !Number.isFinite(price) || price <= 0 || price > MAX_COST_PER_HOUR_USD) {
      issues.push({
        file: path,
        path: type.slice(0, 64),
        value: price,
        message: `expected a price in USD per GPU-hour: a number above 0 and at most ${MAX_COST_PER_HOUR_USD}`,
      });
    } else table[type] = price;
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return table;
}

/** The file's text, refused unread past MAX_PRICE_TABLE_BYTES (see bounded-file.ts). */
async function readBounded(path: string): Promise<string> {
  return readBoundedText(path, MAX_PRICE_TABLE_BYTES, 'the price table');
}
