/**
 * The text of every content event of one stream, kept off the JavaScript heap
 * until the stream ends.
 *
 * Why: the tokenizer needs each event's text when the server reports no usage
 * or a count that disagrees with the events, so the text is kept for the whole
 * stream. As an array of small strings it is one live heap object per token;
 * at 512 streams the young generation is full of them and every scavenge copies
 * them again (the client's CPU per token grew ~20% from 64 to 512 streams, most
 * of it GC). Here the UTF-16 code units go into one growing Uint16Array and the
 * event boundaries into a Uint32Array: a few objects per stream, whatever its
 * length, and a copy of a few characters per token.
 */

import { nextCut } from '../workload/tokenizer.js';

// A 256-token stream of ~4-character tokens fits without growing (3 KB, off the heap).
const INITIAL_UNITS = 1024;
const INITIAL_EVENTS = 256;

export class ChunkTexts {
  private units: Uint16Array = new Uint16Array(INITIAL_UNITS);
  private used = 0;
  /** `ends[i]` is the end (exclusive) of event i's text in `units`. */
  private ends: Uint32Array = new Uint32Array(INITIAL_EVENTS);
  private events = 0;

  /** Number of events appended. */
  get count(): number {
    return this.events;
  }

  /** Append one event's text (reasoning and content together). */
  append(text: string): void {
    const n = text.length;
    if (this.used + n > this.units.length) this.units = grownUnits(this.units, this.used + n);
    const units = this.units;
    let at = this.used;
    for (let i = 0; i < n; i++) units[at++] = text.charCodeAt(i);
    this.used = at;
    if (this.events === this.ends.length) this.ends = grownEnds(this.ends);
    this.ends[this.events++] = at;
  }

  /** Append two texts as one event, without joining them into a new string first. */
  append2(first: string, second: string): void {
    if (first === '') return this.append(second);
    const events = this.events;
    this.append(first);
    this.events = events; // merge: the second append closes the same event
    this.append(second);
  }

  /** The text of event `i`. */
  text(i: number): string {
    if (i < 0 || i >= this.events) throw new RangeError(`event ${i} of ${this.events}`);
    return decode(this.units, i === 0 ? 0 : (this.ends[i - 1] as number), this.ends[i] as number);
  }

  /** Every event's text, in order. */
  texts(): string[] {
    const out = new Array<string>(this.events);
    for (let i = 0; i < this.events; i++) out[i] = this.text(i);
    return out;
  }

  /** All the text, as one string. */
  joined(): string {
    return decode(this.units, 0, this.used);
  }

  /** Characters appended, all events together. */
  get chars(): number {
    return this.used;
  }

  /**
   * Count tokens of every event (`perEvent`) and of the whole text (`whole`), then call
   * `done`. Counting is linear but not free (8-20 µs per character of random letters or
   * CJK on o200k_base): a text of more than SYNC_COUNT_CHARS is counted in slices of at
   * most SLICE_CHARS (whole events, or one long event cut where the tokenizer would cut
   * it), one slice per turn of the event loop, so a long response never holds up the other
   * streams' timestamps; a short one is counted at once, as before.
   */
  countTokens(
    count: (text: string) => number,
    want: { perEvent: boolean; whole: boolean },
    done: (perEvent: number[] | null, whole: number) => void,
  ): void {
    const steps: Array<() => void> = [];
    const perEvent = want.perEvent ? new Array<number>(this.events).fill(0) : null;
    let whole = 0;
    if (perEvent !== null) {
      let i = 0;
      while (i < this.events) {
        const first = i;
        const start = first === 0 ? 0 : (this.ends[first - 1] as number);
        while (i < this.events && (this.ends[i] as number) - start <= SLICE_CHARS) i++;
        if (i > first) {
          const last = i;
          steps.push(() => {
            for (let k = first; k < last; k++) perEvent[k] = count(this.text(k));
          });
        } else {
          // One event longer than a slice: counted in slices of its own.
          const k = i++;
          const text = this.text(k);
          for (let at = 0; at < text.length;) {
            const from = at;
            const to = nextCut(text, from, SLICE_CHARS);
            steps.push(() => {
              perEvent[k] = (perEvent[k] as number) + count(text.slice(from, to));
            });
            at = to;
          }
        }
      }
    }
    if (want.whole) {
      const text = this.joined();
      for (let at = 0; at < text.length;) {
        const from = at;
        const to = nextCut(text, from, SLICE_CHARS);
        steps.push(() => {
          whole += count(text.slice(from, to));
        });
        at = to;
      }
    }
    const finish = (): void => done(perEvent, whole);
    if ((want.perEvent ? this.used : 0) + (want.whole ? this.used : 0) <= SYNC_COUNT_CHARS) {
      for (const step of steps) step();
      finish();
      return;
    }
    let next = 0;
    const run = (): void => {
      (steps[next++] as () => void)();
      if (next < steps.length) setImmediate(run);
      else finish();
    };
    setImmediate(run);
  }
}

/** Texts up to this many characters (all counting together) are counted in one go. */
const SYNC_COUNT_CHARS = 4096;
/**
 * Characters counted per turn of the event loop: ~10 ms of tokenizer time at worst (random
 * CJK costs up to ~20 µs per character on o200k_base), less than 1 ms for ordinary text.
 */
const SLICE_CHARS = 512;

/** A copy with room for at least `need` units (doubling, so appends stay amortised O(1)). */
function grownUnits(a: Uint16Array, need: number): Uint16Array {
  let size = a.length * 2;
  while (size < need) size *= 2;
  const b = new Uint16Array(size);
  b.set(a);
  return b;
}

function grownEnds(a: Uint32Array): Uint32Array {
  const b = new Uint32Array(a.length * 2);
  b.set(a);
  return b;
}

/** Code units [from, to) as a string, in slices small enough for fromCharCode's argument list. */
function decode(units: Uint16Array, from: number, to: number): string {
  const SLICE = 8192;
  let out = '';
  for (let at = from; at < to; at += SLICE) {
    out += String.fromCharCode(...units.subarray(at, Math.min(to, at + SLICE)));
  }
  return out;
}
