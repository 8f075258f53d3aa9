/**
 * Equality-based label selectors (`a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-joined), as the
 * API server reads them, for a BenchmarkJob the controller read by name: so `--selector`
 * holds for every reconcile, not only for the list that found it.
 */
export function labelMatcher(selector: string): (labels: Record<string, string>) => boolean {
  const terms = selector
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .map((term) => {
      const not = /^(.+?)\s*!=\s*(.*)$/.exec(term);
      if (not) return (l: Record<string, string>) => l[not[1]!] !== not[2];
      const eq = /^(.+?)\s*==?\s*(.*)$/.exec(term);
      if (eq) return (l: Record<string, string>) => l[eq[1]!] === eq[2];
      if (term.startsWith('!')) return (l: Record<string, string>) => !(term.slice(1) in l);
      if (/[\s()]/.test(term))
        throw new Error(`--selector: "${term}": only equality-based terms (a=b, a!=b, a, !a) are supported`);
      return (l: Record<string, string>) => term in l;
    });
  return (labels) => terms.every((t) => t(labels));
}
