/**
 * The gate's versioned assets, checked into the user's repository: baseline.json
 * (per-repeat samples per metric key, unit, direction, the config fingerprint and
 * testbed they were measured on, and the runs and evidence they came from),
 * tolerances.json (defaults plus per-key rules by glob) and budgets.json (absolute
 * bounds by key or glob). Each is read with its sha256, which every verdict
 * records: a verdict names the exact assets it was decided against.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ValidationError } from '../base/errors.js';
import { sha256 } from '../base/digest.js';
import { parseWith } from '../spec/zod-issues.js';

const direction = z.enum(['lower', 'higher']);

export const baselineSchema = z.strictObject({
  format: z.literal('infermark-baseline/v1'),
  created_at: z.string(),
  config_fingerprint: z.string().min(1),
  testbed: z.record(z.string(), z.unknown()),
  run_group_id: z.string().nullable(),
  runs: z.array(z.strictObject({ run_id: z.string(), artifact_manifest_digest: z.string() })).min(1),
  metrics: z.record(
    z.string(),
    z.strictObject({
      unit: z.string(),
      direction,
      /** One value per repeat. */
      samples: z.array(z.number()).min(1),
      /** Per repeat: the samples behind a percentile (null for rates). */
      sample_counts: z.array(z.number().int().nonnegative().nullable()),
    }),
  ),
});
export type Baseline = z.infer<typeof baselineSchema>;

const tolerance = {
  /** Allowed regression as a fraction of the baseline median (0.05 = 5% worse). */
  relative: z.number().nonnegative().optional(),
  /** Allowed regression in the metric's unit. */
  absolute: z.number().nonnegative().optional(),
  alpha: z.number().positive().max(0.5).optional(),
  min_repeats: z.number().int().min(2).optional(),
};

export const tolerancesSchema = z.strictObject({
  format: z.literal('infermark-tolerances/v1'),
  defaults: z.strictObject({
    ...tolerance,
    test: z.literal('mann-whitney').default('mann-whitney'),
  }),
  /** First matching rule wins; `ignore` takes a key out of the gate. */
  rules: z
    .array(z.strictObject({ match: z.string().min(1), ignore: z.boolean().optional(), ...tolerance }))
    .default([]),
});
export type Tolerances = z.infer<typeof tolerancesSchema>;

export const budgetsSchema = z.strictObject({
  format: z.literal('infermark-budgets/v1'),
  /** Key or glob → bounds; a metric's value is the median over the repeats. */
  budgets: z.record(
    z.string(),
    z
      .strictObject({ max: z.number().optional(), min: z.number().optional() })
      .refine((b) => b.max !== undefined || b.min !== undefined, 'expected max, min or both'),
  ),
});
export type Budgets = z.infer<typeof budgetsSchema>;

export interface Asset<T> {
  path: string;
  sha256: string;
  value: T;
}

/** Reads and validates one asset; every problem at once, each with file and field path. */
export async function readAsset<T extends z.ZodType>(path: string, schema: T): Promise<Asset<z.infer<T>>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ValidationError([
      { file: path, path: '', message: code === 'ENOENT' ? 'no such file' : `cannot read it (${code})` },
    ]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ValidationError([
      { file: path, path: '', message: `not valid JSON (${(error as Error).message})` },
    ]);
  }
  return { path, sha256: sha256(text), value: parseWith(schema, raw, path) };
}

/** The settings that apply to a key: the first matching rule over the defaults. */
export function toleranceFor(
  tolerances: Tolerances,
  key: string,
  matches: (pattern: string, key: string) => boolean,
): {
  ignore: boolean;
  relative: number | null;
  absolute: number | null;
  alpha: number;
  min_repeats: number;
  rule: string;
} {
  const rule = tolerances.rules.find((r) => matches(r.match, key));
  const pick = <K extends 'relative' | 'absolute' | 'alpha' | 'min_repeats'>(name: K) =>
    rule?.[name] ?? tolerances.defaults[name];
  return {
    ignore: rule?.ignore === true,
    relative: pick('relative') ?? null,
    absolute: pick('absolute') ?? null,
    alpha: pick('alpha') ?? 0.01,
    min_repeats: pick('min_repeats') ?? 5,
    rule: rule?.match ?? 'defaults',
  };
}
