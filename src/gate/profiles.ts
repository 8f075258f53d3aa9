/**
 * Gate profiles: which scenarios, repeats, durations and gate mode apply to a
 * fresh run. `pr` is the short one a pull request can afford, `nightly` the
 * thorough one; a YAML or JSON file defines others. A profile changes the job, so
 * a baseline must be made under the same profile (its config fingerprint says so).
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';
import { ValidationError } from '../base/errors.js';
import type { ValidatedJob } from '../spec/validated-job.js';
import { parseWith } from '../spec/zod-issues.js';

export const profileSchema = z.strictObject({
  name: z.string().min(1),
  /** Repeats of the whole job; 7 is the fewest at which 19 keys under Holm can reach α = 0.01. */
  repeats: z.number().int().min(1),
  mode: z.enum(['regression', 'budget']),
  /** Only these of the job's traffic scenarios (all when absent). */
  scenarios: z.array(z.string()).optional(),
  /** Only these of the job's concurrency levels (all when absent). */
  numConcurrency: z.array(z.number().int().positive()).optional(),
  maxRequestsPerIteration: z.number().int().positive().optional(),
  /** Minutes. */
  maxTimePerIteration: z.number().int().positive().optional(),
});
export type Profile = z.infer<typeof profileSchema>;

export const BUILTIN_PROFILES: Record<string, Profile> = {
  pr: { name: 'pr', repeats: 7, mode: 'regression', maxTimePerIteration: 2 },
  nightly: { name: 'nightly', repeats: 10, mode: 'regression' },
};

/** A built-in profile by name, or one read from a YAML/JSON file. */
export async function loadProfile(nameOrFile: string): Promise<Profile> {
  const builtin = BUILTIN_PROFILES[nameOrFile];
  if (builtin) return builtin;
  let text: string;
  try {
    text = await readFile(nameOrFile, 'utf8');
  } catch {
    throw new ValidationError([
      {
        path: '--profile',
        value: nameOrFile,
        message: `expected ${Object.keys(BUILTIN_PROFILES).join(' or ')}, or a profile file (no such file)`,
      },
    ]);
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    throw new ValidationError([
      { file: nameOrFile, path: '', message: `not YAML or JSON (${(error as Error).message})` },
    ]);
  }
  return parseWith(profileSchema, raw, nameOrFile);
}

/** The job as the profile runs it; a filter that keeps nothing is an error naming it. */
export function applyProfile(job: ValidatedJob, profile: Profile, jobFile: string): ValidatedJob {
  const spec = { ...job.spec, repeats: profile.repeats };
  let parsed = job.parsed;
  const issues = [];
  if (profile.scenarios) {
    spec.trafficScenarios = job.spec.trafficScenarios.filter((s) => profile.scenarios?.includes(s));
    // The parsed scenarios are the ones the plan runs: they follow the list.
    parsed = { ...parsed, scenarios: parsed.scenarios.filter((s) => profile.scenarios?.includes(s.text)) };
    const unknown = profile.scenarios.filter((s) => !job.spec.trafficScenarios.includes(s));
    if (unknown.length > 0) {
      issues.push({
        file: jobFile,
        path: 'spec.trafficScenarios',
        message: `profile ${profile.name} names scenarios the job does not have: ${unknown.join(', ')}`,
      });
    }
  }
  if (profile.numConcurrency) {
    spec.numConcurrency = job.spec.numConcurrency.filter((c) => profile.numConcurrency?.includes(c));
    const unknown = profile.numConcurrency.filter((c) => !job.spec.numConcurrency.includes(c));
    if (unknown.length > 0) {
      issues.push({
        file: jobFile,
        path: 'spec.numConcurrency',
        message: `profile ${profile.name} names concurrency levels the job does not have: ${unknown.join(', ')}`,
      });
    }
  }
  if (profile.maxRequestsPerIteration !== undefined)
    spec.maxRequestsPerIteration = profile.maxRequestsPerIteration;
  if (profile.maxTimePerIteration !== undefined) {
    spec.maxTimePerIteration = Math.min(profile.maxTimePerIteration, job.spec.maxTimePerIteration);
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return { ...job, spec, parsed };
}
