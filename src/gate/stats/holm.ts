/**
 * Holm's step-down correction for testing several hypotheses at once (Holm
 * 1979, "A simple sequentially rejective multiple test procedure", Scand. J.
 * Statist. 6:65–70): controls the family-wise error rate at α under any
 * dependence between the tests, and rejects at least what Bonferroni rejects.
 */

function checkPValues(pValues: readonly number[]): void {
  for (const p of pValues)
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Holm: p-values must be in [0, 1], got ${p}`);
}

/**
 * Holm-adjusted p-values, in the input order. With p_(1) ≤ … ≤ p_(m) the
 * sorted p-values, the adjusted value of p_(i) is
 * max over j ≤ i of min(1, (m − j + 1)·p_(j)): monotone in the sorted order,
 * never below the raw p-value, capped at 1. Equal p-values get equal adjusted
 * values. Hypothesis i is rejected at family-wise level α iff its adjusted
 * p-value is ≤ α (as statsmodels' multipletests(method='holm')).
 */
export function holmAdjust(pValues: readonly number[]): number[] {
  checkPValues(pValues);
  const m = pValues.length;
  const order = pValues.map((_, i) => i).sort((a, b) => (pValues[a] as number) - (pValues[b] as number));
  const adjusted = new Array<number>(m);
  let running = 0;
  for (let rank = 0; rank < m; rank++) {
    const i = order[rank] as number;
    running = Math.max(running, Math.min(1, (m - rank) * (pValues[i] as number)));
    adjusted[i] = running;
  }
  return adjusted;
}

/**
 * Which hypotheses Holm's procedure rejects at family-wise level `alpha`, in
 * the input order: the smallest p-values p_(1), p_(2), … are rejected while
 * p_(j) ≤ α/(m − j + 1), and the procedure stops at the first that is not.
 * Decided on the adjusted p-values (adjusted ≤ α), so a reported adjusted
 * p-value and its decision never disagree.
 */
export function holmReject(pValues: readonly number[], alpha: number): boolean[] {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`Holm: alpha must be in (0, 1), got ${alpha}`);
  return holmAdjust(pValues).map((p) => p <= alpha);
}
