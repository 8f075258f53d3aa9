/**
 * Field paths in the form users read them (`spec.trafficScenarios[2]`,
 * `metadata.labels["app.kubernetes.io/name"]`) and lookup of the value at a path.
 */

import { clip } from './job-limits.js';

/** One step of a path: an object key or an array index. */
export type PathSegment = string | number;

/** Render a path: keys dotted, indices bracketed, odd keys quoted. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(clip(seg))}]`;
  }
  return out;
}

/** The value at `path` inside `root`, or undefined when any step is missing. */
export function valueAt(root: unknown, path: readonly PathSegment[]): unknown {
  let cur: unknown = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PathSegment, unknown>)[seg];
  }
  return cur;
}
