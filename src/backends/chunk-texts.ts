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
}

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
