/**
 * The tolerances used when none are given (a report's `--vs` verdicts, a diagnosis of
 * repeats): the gate's documented defaults (docs/gates.md).
 */
import type { Asset, Tolerances } from './assets.js';

export const DEFAULT_TOLERANCES: Asset<Tolerances> = {
  path: '(defaults)',
  sha256: '',
  value: {
    format: 'infermark-tolerances/v1',
    defaults: { relative: 0.05, alpha: 0.01, min_repeats: 5, test: 'mann-whitney' },
    rules: [],
  },
};
