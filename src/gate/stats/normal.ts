/**
 * The standard normal distribution: tail probability and quantile, accurate to
 * a few 1e-15 relative, in the far tails too, so p-values of the normal approximations
 * (Mann-Whitney for large samples, Hodges-Lehmann ranks) match scipy's figures.
 * No dependency: a series for the centre, a continued fraction for the tails.
 */

const INV_SQRT_2PI = 0.3989422804014327;

/** Standard normal density φ(z). */
export function normalPdf(z: number): number {
  return INV_SQRT_2PI * Math.exp(-0.5 * z * z);
}

/**
 * Upper tail P(Z ≥ z) of the standard normal (scipy's `norm.sf`). Keeps its
 * relative precision far into the upper tail (1 − cdf would not).
 */
export function normalSf(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  if (z < 0) return 1 - normalSf(-z);
  if (z === Infinity) return 0;
  if (z < 1.5) {
    // Φ(z) − ½ = φ(z)·Σ z^(2k+1)/(1·3·…·(2k+1)): positive terms, no cancellation until the final ½ − ….
    let term = z;
    let sum = z;
    for (let k = 1; k < 200 && term > 1e-17 * sum; k++) {
      term *= (z * z) / (2 * k + 1);
      sum += term;
    }
    return 0.5 - normalPdf(z) * sum;
  }
  if (z > 38) return 0;
  // Mills ratio by its continued fraction 1/(z + 1/(z + 2/(z + 3/(z + …)))), evaluated from the tail;
  // 300 levels reach double precision from z = 1.5 on (it converges slowly nearer 0).
  let tail = z;
  for (let k = 300; k >= 1; k--) tail = z + k / tail;
  return normalPdf(z) / tail;
}

/** Lower tail P(Z ≤ z) of the standard normal. */
export function normalCdf(z: number): number {
  return normalSf(-z);
}

/**
 * Quantile (inverse cdf) of the standard normal: the z with P(Z ≤ z) = p, for
 * p in (0, 1); −Infinity at 0 and Infinity at 1. A rational first guess
 * (Abramowitz & Stegun 26.2.23) refined by Newton steps on the tail nearer p.
 */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`normalQuantile: p must be in [0, 1], got ${p}`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (p === 0.5) return 0;
  // Solve in the lower tail, where the probability is represented exactly: P(Z ≤ −t) = tail.
  const tail = p < 0.5 ? p : 1 - p;
  const s = Math.sqrt(-2 * Math.log(tail));
  let t =
    s -
    (2.515517 + 0.802853 * s + 0.010328 * s * s) / (1 + 1.432788 * s + 0.189269 * s * s + 0.001308 * s ** 3);
  for (let i = 0; i < 50; i++) {
    // P(Z ≥ t) = tail; Newton on the upper tail: d/dt sf(t) = −φ(t).
    const step = (normalSf(t) - tail) / normalPdf(t);
    t += step;
    if (Math.abs(step) <= 1e-15 * Math.max(1, Math.abs(t))) break;
  }
  return p < 0.5 ? -t : t;
}
