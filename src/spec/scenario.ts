/**
 * genai-bench's traffic-scenario grammar: parse a scenario string into the Scenario AST
 * and print it back. Strict on purpose: every accepted string prints back to exactly
 * itself (`formatScenario(parseScenario(s).scenario) === s`), so a scenario's text can be
 * used as a key in results and warehouse rows without canonicalisation surprises.
 *
 * Semantics follow genai-bench (genai_bench/scenarios/text.py, multimodal.py):
 * - `N(...)` samples are truncated to input ≥ 1 and output ≥ 2 tokens.
 * - The one-group `U(maxIn,maxOut)` uses min 1 for both input and output
 *   (genai-bench samples `uniform(min or 1, max)`), then truncates output to ≥ 2.
 * - `I(w,h)` means one image; `I(w,h,n)` keeps `n` so it prints back as written.
 * Stricter than genai-bench: no whitespace, no leading zeros, no zero/negative lengths,
 * standard deviations > 0, min ≤ max (genai-bench's `\d+` patterns accept all of these).
 */
import type { Scenario } from './scenario-types.js';

/** Result of parsing one scenario string: the AST, or a message saying what was expected. */
export type ScenarioParseResult = { ok: true; scenario: Scenario } | { ok: false; message: string };

const SHAPES = {
  D: 'D(input_tokens,output_tokens)',
  N: 'N(mean_input,stddev_input)/(mean_output,stddev_output)',
  U: 'U(min_input,max_input)/(min_output,max_output) or U(max_input,max_output)',
  E: 'E(tokens_per_document)',
  R: 'R(tokens_per_document,tokens_per_query)',
  I: 'I(width,height) or I(width,height,images)',
} as const;

type Letter = keyof typeof SHAPES;

const ALL_FORMS =
  'D(in,out), N(μin,σin)/(μout,σout), U(min,max)/(min,max), U(maxIn,maxOut), E(n), R(doc,query), I(w,h), I(w,h,n) or dataset';

/** Thrown inside the parser only; turned into `{ ok: false }` at the boundary. */
class ScenarioSyntaxError extends Error {}

function fail(message: string): never {
  throw new ScenarioSyntaxError(message);
}

/**
 * Parse a traffic-scenario string (`D(100,100)`, `N(480,240)/(300,150)`, `dataset`, ...).
 * Never throws; on failure the message says what was expected.
 */
export function parseScenario(text: string): ScenarioParseResult {
  try {
    return { ok: true, scenario: parseStrict(text) };
  } catch (error) {
    if (error instanceof ScenarioSyntaxError) return { ok: false, message: error.message };
    throw error;
  }
}

function parseStrict(text: string): Scenario {
  if (typeof text !== 'string') fail(`expected a traffic scenario string such as D(100,100)`);
  if (text.length === 0) fail(`expected a traffic scenario such as D(100,100), got an empty string`);
  if (/\s/.test(text)) {
    const compact = text.replace(/\s+/g, '');
    const hint = compact.length > 0 && tryParse(compact) ? ` (write "${compact}")` : '';
    fail(`whitespace is not allowed in a traffic scenario${hint}`);
  }
  if (text === 'dataset') return { kind: 'dataset' };
  if (text.toLowerCase() === 'dataset') fail(`expected "dataset" in lower case`);

  const letter = text[0] as string;
  if (letter === 'P') fail(`prefix-repetition scenarios P(prefix,suffix)/output are not supported yet`);
  if (letter === 'V') fail(`video scenarios V(n) are not supported yet`);
  if (!(letter in SHAPES)) {
    const upper = letter.toUpperCase();
    if (upper !== letter && upper in SHAPES) {
      fail(`scenario types are upper case: write "${upper}${text.slice(1)}"`);
    }
    fail(`unknown traffic scenario: expected ${ALL_FORMS}`);
  }
  const kind = letter as Letter;
  const groups = splitGroups(text.slice(1), kind);

  switch (kind) {
    case 'D':
      return parseD(groups);
    case 'N':
      return parseN(groups);
    case 'U':
      return parseU(groups);
    case 'E':
      return parseE(groups);
    case 'R':
      return parseR(groups);
    case 'I':
      return parseI(groups);
  }
}

function tryParse(text: string): boolean {
  try {
    parseStrict(text);
    return true;
  } catch {
    return false;
  }
}

/** `(a,b)` or `(a,b)/(c,d)` → raw argument strings per group; anything else is a shape error. */
function splitGroups(rest: string, kind: Letter): string[][] {
  const match = /^\(([^()/]*)\)(?:\/\(([^()/]*)\))?$/.exec(rest);
  if (!match) fail(`expected ${SHAPES[kind]}`);
  const groups = [match[1] as string];
  if (match[2] !== undefined) groups.push(match[2]);
  return groups.map((g) => g.split(','));
}

/** One integer argument. Negative values parse, so range checks can name the field. */
function int(raw: string, field: string, shape: string): number {
  if (raw === '') fail(`expected ${shape}: ${field} is missing`);
  if (/^-?\d+\.\d*$/.test(raw)) fail(`${field} must be an integer, got ${raw}`);
  if (!/^-?\d+$/.test(raw)) fail(`expected ${shape}: ${field} is not a number (${raw})`);
  if (/^-?0\d/.test(raw)) fail(`${field} has leading zeros (${raw}): write ${String(Number(raw))}`);
  if (raw === '-0') fail(`${field} must be ≥ 1, got ${raw}`);
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) fail(`${field} is too large (${raw})`);
  return value;
}

function atLeast(value: number, min: number, field: string): void {
  if (value < min) fail(`${field} must be ≥ ${min}, got ${value}`);
}

function expectArity(groups: string[][], arity: number[], shape: string): void {
  if (groups.length !== arity.length || groups.some((g, i) => g.length !== arity[i])) {
    fail(`expected ${shape}`);
  }
}

function parseD(groups: string[][]): Scenario {
  const shape = `${SHAPES.D} with positive integers`;
  expectArity(groups, [2], shape);
  const [a, b] = groups[0] as [string, string];
  const input = int(a, 'input tokens', shape);
  const output = int(b, 'output tokens', shape);
  if (input < 1 || output < 1) fail(`expected ${shape}`);
  return { kind: 'D', input, output };
}

function parseN(groups: string[][]): Scenario {
  const shape = SHAPES.N;
  expectArity(groups, [2, 2], shape);
  const [mi, si] = groups[0] as [string, string];
  const [mo, so] = groups[1] as [string, string];
  const inputMean = int(mi, 'mean input tokens', shape);
  const inputStd = int(si, 'input standard deviation', shape);
  const outputMean = int(mo, 'mean output tokens', shape);
  const outputStd = int(so, 'output standard deviation', shape);
  atLeast(inputMean, 1, 'mean input tokens');
  if (inputStd <= 0) fail(`standard deviation must be > 0 (input standard deviation is ${inputStd})`);
  // Samples are truncated to output ≥ 2; a mean below that would be a degenerate distribution.
  if (outputMean < 2) fail(`output tokens must be ≥ 2 (mean output tokens is ${outputMean})`);
  if (outputStd <= 0) fail(`standard deviation must be > 0 (output standard deviation is ${outputStd})`);
  return { kind: 'N', inputMean, inputStd, outputMean, outputStd };
}

function parseU(groups: string[][]): Scenario {
  const shape = SHAPES.U;
  if (groups.length === 1) {
    expectArity(groups, [2], shape);
    const [a, b] = groups[0] as [string, string];
    const maxInput = int(a, 'max input tokens', shape);
    const maxOutput = int(b, 'max output tokens', shape);
    atLeast(maxInput, 1, 'max input tokens');
    if (maxOutput < 2) fail(`output tokens must be ≥ 2 (max output tokens is ${maxOutput})`);
    // genai-bench's one-group form: mins are `None`, sampled as `min or 1`.
    return { kind: 'U', minInput: 1, maxInput, minOutput: 1, maxOutput, oneGroup: true };
  }
  expectArity(groups, [2, 2], shape);
  const [a, b] = groups[0] as [string, string];
  const [c, d] = groups[1] as [string, string];
  const minInput = int(a, 'min input tokens', shape);
  const maxInput = int(b, 'max input tokens', shape);
  const minOutput = int(c, 'min output tokens', shape);
  const maxOutput = int(d, 'max output tokens', shape);
  atLeast(minInput, 1, 'min input tokens');
  if (minInput > maxInput) fail(`min must be ≤ max (input: ${minInput} > ${maxInput})`);
  atLeast(minOutput, 1, 'min output tokens');
  if (minOutput > maxOutput) fail(`min must be ≤ max (output: ${minOutput} > ${maxOutput})`);
  if (maxOutput < 2) fail(`output tokens must be ≥ 2 (max output tokens is ${maxOutput})`);
  return { kind: 'U', minInput, maxInput, minOutput, maxOutput, oneGroup: false };
}

function parseE(groups: string[][]): Scenario {
  const shape = `${SHAPES.E} with a positive integer`;
  expectArity(groups, [1], shape);
  const tokensPerDocument = int((groups[0] as [string])[0], 'tokens per document', shape);
  atLeast(tokensPerDocument, 1, 'tokens per document');
  return { kind: 'E', tokensPerDocument };
}

function parseR(groups: string[][]): Scenario {
  const shape = `${SHAPES.R} with positive integers`;
  expectArity(groups, [2], shape);
  const [a, b] = groups[0] as [string, string];
  const tokensPerDocument = int(a, 'tokens per document', shape);
  const tokensPerQuery = int(b, 'tokens per query', shape);
  atLeast(tokensPerDocument, 1, 'tokens per document');
  atLeast(tokensPerQuery, 1, 'tokens per query');
  return { kind: 'R', tokensPerDocument, tokensPerQuery };
}

function parseI(groups: string[][]): Scenario {
  const shape = `${SHAPES.I} with positive integers`;
  if (groups.length !== 1 || (groups[0]?.length !== 2 && groups[0]?.length !== 3)) fail(`expected ${shape}`);
  const [w, h, n] = groups[0] as [string, string, string?];
  const width = int(w, 'width', shape);
  const height = int(h, 'height', shape);
  atLeast(width, 1, 'width');
  atLeast(height, 1, 'height');
  if (n === undefined) return { kind: 'I', width, height };
  const count = int(n, 'image count', shape);
  atLeast(count, 1, 'image count');
  return { kind: 'I', width, height, count };
}

/** Print a scenario in genai-bench's syntax; the inverse of `parseScenario` for every accepted string. */
export function formatScenario(s: Scenario): string {
  switch (s.kind) {
    case 'D':
      return `D(${s.input},${s.output})`;
    case 'N':
      return `N(${s.inputMean},${s.inputStd})/(${s.outputMean},${s.outputStd})`;
    case 'U':
      return s.oneGroup
        ? `U(${s.maxInput},${s.maxOutput})`
        : `U(${s.minInput},${s.maxInput})/(${s.minOutput},${s.maxOutput})`;
    case 'E':
      return `E(${s.tokensPerDocument})`;
    case 'R':
      return `R(${s.tokensPerDocument},${s.tokensPerQuery})`;
    case 'I':
      return s.count === undefined ? `I(${s.width},${s.height})` : `I(${s.width},${s.height},${s.count})`;
    case 'dataset':
      return 'dataset';
  }
}
