/**
 * Seeded pseudo-random numbers for the workload: xoshiro128** seeded through
 * splitmix32. Small, fast, and identical on every platform (32-bit integer math
 * only), so the same seed gives byte-identical prompts anywhere.
 */
import { createHash } from 'node:crypto';

/** A 64-bit key as two unsigned 32-bit halves; derived once per item source. */
export type Key64 = readonly [number, number];

/** Hash any string (e.g. canonical JSON of seed + scenario + iteration) to a 64-bit key. */
export function keyFromString(text: string): Key64 {
  const digest = createHash('sha256').update(text).digest();
  return [digest.readUInt32LE(0), digest.readUInt32LE(4)];
}

/** splitmix32 step: a good 32-bit mixer, used to spread seeds over the generator state. */
function splitmix32(state: number): [next: number, out: number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [next, (z ^ (z >>> 16)) >>> 0];
}

/** Mix a key with an index into a well-spread 32-bit value (murmur3 finaliser). */
export function mix32(key: Key64, index: number): number {
  let h =
    (key[0] ^ Math.imul(index | 0, 0x9e3779b1) ^ Math.imul(Math.floor(index / 0x100000000), 0x85ebca77)) | 0;
  h ^= key[1];
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** xoshiro128**: 128-bit state, period 2^128 − 1. */
export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** Spare normal deviate from the last Box–Muller pair. */
  private spare: number | undefined;

  constructor(seedA: number, seedB = 0, seedC = 0, seedD = 0) {
    let st = (seedA ^ Math.imul(seedB, 0x27d4eb2d)) | 0;
    const parts: number[] = [];
    for (const extra of [seedC, seedD, seedA ^ seedC, seedB ^ seedD]) {
      const [next, out] = splitmix32((st ^ extra) | 0);
      st = next;
      parts.push(out);
    }
    [this.s0, this.s1, this.s2, this.s3] = parts as [number, number, number, number];
    // An all-zero state would be a fixed point; splitmix output makes it practically impossible, but be sure.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** The generator for item `index` of the stream keyed by `key`: independent of any other item's draws. */
  static forItem(key: Key64, index: number, stream = 0): Prng {
    return new Prng(
      key[0],
      key[1],
      index >>> 0,
      (Math.floor(index / 0x100000000) ^ Math.imul(stream, 0x632be5ab)) | 0,
    );
  }

  /** Next unsigned 32-bit integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [min, max], both inclusive, without modulo bias. */
  intInclusive(min: number, max: number): number {
    if (!(max >= min)) throw new RangeError(`intInclusive: max (${max}) < min (${min})`);
    const span = max - min + 1;
    if (span > 0x100000000) return min + Math.floor(this.nextFloat() * span);
    // Rejection sampling: discard the top partial bucket so every value is equally likely.
    const limit = 0x100000000 - (0x100000000 % span);
    let x = this.nextU32();
    while (x >= limit) x = this.nextU32();
    return min + (x % span);
  }

  /** Standard normal deviate (Box–Muller, polar-free form; the pair's second value is kept). */
  nextNormal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    // 1 - u keeps the logarithm's argument in (0, 1].
    const u = 1 - this.nextFloat();
    const v = this.nextFloat();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * A seeded bijection on [0, n): `at(i)` for i < n visits every value once, so the first n
 * items of a stream never share a corpus offset (distinct prompts defeat server prefix caches).
 * Affine map `(a·i + b) mod n` with gcd(a, n) = 1: O(1) per lookup and order-independent.
 */
export class Permutation {
  private readonly a: number;
  private readonly b: number;
  constructor(
    readonly n: number,
    key: Key64,
  ) {
    if (!(n >= 1 && Number.isSafeInteger(n))) throw new RangeError(`Permutation size must be ≥ 1, got ${n}`);
    const rng = new Prng(key[0], key[1], 0x5eed, n);
    // A multiplier near n·φ spreads consecutive items far apart; step until coprime.
    let a =
      n === 1
        ? 1
        : Math.max(1, Math.floor(n * 0.6180339887) + rng.intInclusive(0, Math.max(0, Math.floor(n / 16))));
    a %= n;
    if (a === 0) a = 1;
    while (gcd(a, n) !== 1) a = (a + 1) % n || 1;
    this.a = a;
    this.b = rng.intInclusive(0, n - 1);
  }
  /** Image of `i` (any non-negative integer; wraps modulo n). */
  at(i: number): number {
    const k = i % this.n;
    // a, k < n ≤ 2^26 keeps the product exact in a double; larger n falls back to BigInt.
    if (this.n <= 67108864) return (this.a * k + this.b) % this.n;
    return Number((BigInt(this.a) * BigInt(k) + BigInt(this.b)) % BigInt(this.n));
  }
}

function gcd(x: number, y: number): number {
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}
