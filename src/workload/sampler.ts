/**
 * Item sources for traffic scenarios: lengths sampled per scenario (D, N, U, E, R, I)
 * with a per-item seeded generator, prompts cut from the corpus at distinct offsets,
 * and the workload digest over the first items.
 *
 * Determinism: item i draws from `Prng.forItem(key, i)` where key = hash of the source's
 * canonical description (seed, scenario, iteration key, task, tokenizer, corpus digest,
 * options). No draw depends on another item's, so `itemAt` may be called in any order,
 * from any number of executors, and returns byte-identical items.
 *
 * Prefix caching: item i starts at corpus start position `perm(i)` of a seeded
 * permutation, so the first `startCount` items (~45k pieces for o200k_base) of an
 * iteration all start at different places and share no prefix. Different iterations use
 * differently keyed permutations, so an offset repeats across iterations only by chance
 * (≈ n²/startCount collisions for n items each, and those only share a prefix when the
 * lengths also match).
 *
 * Shared prefixes (spec.sharedPrefix, docs/prefix-caching.md): item i's prompt begins with
 * group (i mod groups)'s prefix of exactly `tokens` tokens, cut at start position
 * `prefixPerm(group)` of a second, differently keyed permutation (so groups begin at distinct
 * corpus positions and share no text beyond chance), then its own part as above, cut so that
 * the join re-encodes exactly (`appendExact`). The prefixes belong to the iteration: a new
 * iteration starts with a cold cache.
 */
import { createHash } from 'node:crypto';
import { InfermarkError } from '../base/errors.js';
import { canonicalJson } from '../base/digest.js';
import type { Scenario } from '../spec/scenario-types.js';
import { createDatasetSource } from './dataset.js';
import { makePngDataUrl } from './images.js';
import { Permutation, Prng, keyFromString, mix32, type Key64 } from '../base/prng.js';
import { appendExact, createPromptSynthesizer, type Corpus, type PromptSynthesizer } from './prompts.js';
import type { Tokenizer } from './tokenizer.js';
import { WORKLOAD_ALGORITHM, type ItemSource, type WorkItem } from './work-item.js';

export { WORKLOAD_ALGORITHM };

/** Defaults for what the scenario grammar leaves open. */
export const WORKLOAD_DEFAULTS = {
  /** Documents per request for E and R (genai-bench's batch size). */
  batchSize: 1,
  /** Text tokens sent with the images of an I scenario. */
  imagePromptTokens: 64,
  /** `max_tokens` for an I scenario. */
  imageOutputTokens: 256,
} as const;

export interface ItemSourceOptions {
  scenario: Scenario;
  tokenizer: Tokenizer;
  seed: number;
  /** Names the iteration (e.g. `"D(100,100)@c=8"`); different iterations get different prompts. */
  iterationKey: string;
  /** genai-bench task (`text-to-text`, `text-to-embeddings`, `text-to-rerank`, `image-text-to-text`). */
  task: string;
  /** Dataset or trace file; required for the `dataset` scenario. */
  datasetPath?: string;
  /** Documents per request for E and R scenarios; default 1. */
  batchSize?: number;
  /** Text tokens with the images of I scenarios; default 64. */
  imagePromptTokens?: number;
  /** `max_tokens` of I scenarios; default 256. */
  imageOutputTokens?: number;
  /** Corpus to cut prompts from; default the shipped data/corpus.txt. */
  corpus?: Corpus;
  /** spec.sharedPrefix: every prompt opens with one of `groups` prefixes of `tokens` tokens. */
  sharedPrefix?: SharedPrefix;
}

/** A prefix shared by requests: `groups` distinct prefixes of `tokens` tokens, request i taking group i mod groups. */
export interface SharedPrefix {
  tokens: number;
  groups: number;
}

/** Input and output lengths of one text request. */
export interface TextLengths {
  inputTokens: number;
  outputTokens: number;
}

/**
 * Lengths for D, N and U scenarios. N: each length is `Math.round(mean + std·z)` (halves
 * round up), then clamped (not resampled, as genai-bench does) to input ≥ 1 and output ≥ 2.
 * U: uniform integers, both bounds inclusive, output then clamped to ≥ 2 as genai-bench does.
 */
export function sampleTextLengths(scenario: Scenario, rng: Prng): TextLengths {
  switch (scenario.kind) {
    case 'D':
      return { inputTokens: scenario.input, outputTokens: scenario.output };
    case 'N': {
      const input = Math.round(scenario.inputMean + scenario.inputStd * rng.nextNormal());
      const output = Math.round(scenario.outputMean + scenario.outputStd * rng.nextNormal());
      return { inputTokens: Math.max(1, input), outputTokens: Math.max(2, output) };
    }
    case 'U':
      return {
        inputTokens: rng.intInclusive(scenario.minInput, scenario.maxInput),
        // genai-bench truncates sampled outputs to ≥ 2 (the one-group form's min is 1).
        outputTokens: Math.max(2, rng.intInclusive(scenario.minOutput, scenario.maxOutput)),
      };
    default:
      throw new InfermarkError('E_SCENARIO', `scenario ${scenario.kind} has no text lengths`);
  }
}

/**
 * The item source for one iteration. Synthetic scenarios have `size` Infinity; `dataset`
 * reads `datasetPath` (a dataset or, detected by its content, a trace).
 */
export async function createItemSource(opts: ItemSourceOptions): Promise<ItemSource> {
  const { scenario } = opts;
  if (scenario.kind === 'dataset') {
    if (!opts.datasetPath) {
      throw new InfermarkError('E_DATASET_MISSING', 'the "dataset" scenario needs a dataset file', 2);
    }
    const source = await createDatasetSource({
      path: opts.datasetPath,
      tokenizer: opts.tokenizer,
      seed: opts.seed,
      iterationKey: opts.iterationKey,
      task: opts.task,
      ...(opts.corpus ? { corpus: opts.corpus } : {}),
    });
    if (!opts.sharedPrefix) return source;
    if (source.description.generator === 'trace') {
      throw new InfermarkError(
        'E_SHARED_PREFIX',
        'spec.sharedPrefix: a trace brings its own shared blocks (hash_ids); remove sharedPrefix to replay it',
        2,
      );
    }
    const synth = await createPromptSynthesizer(opts.tokenizer, opts.corpus);
    return new PrefixedSource(source, new SharedPrefixes(opts.sharedPrefix, source.description, synth));
  }
  const synth = await createPromptSynthesizer(opts.tokenizer, opts.corpus);
  return new SyntheticSource(opts, synth);
}

/**
 * The `groups` prefixes of one iteration. Group g's text is cut at start position
 * `perm(g)` of a permutation keyed by the source's description, so distinct groups begin at
 * distinct corpus positions (there must be no more groups than positions).
 */
export class SharedPrefixes {
  readonly settings: SharedPrefix;
  private readonly perm: Permutation;

  constructor(
    settings: SharedPrefix,
    description: Record<string, unknown>,
    readonly synth: PromptSynthesizer,
  ) {
    for (const [name, value] of Object.entries(settings)) positiveInt(`sharedPrefix.${name}`, value);
    if (settings.groups > synth.startCount) {
      throw new InfermarkError(
        'E_WORKLOAD_OPTION',
        `spec.sharedPrefix.groups is ${settings.groups}; the corpus gives at most ${synth.startCount} distinct prefixes`,
        2,
      );
    }
    this.settings = { tokens: settings.tokens, groups: settings.groups };
    this.perm = new Permutation(
      synth.startCount,
      keyFromString(canonicalJson({ ...description, part: 'shared-prefix' })),
    );
  }

  /** The group request `index` takes. */
  groupOf(index: number): number {
    return index % this.settings.groups;
  }

  /** Group `group`'s prefix text: exactly `settings.tokens` tokens, the same for every request of the group. */
  text(group: number): string {
    return this.synth.prompt(this.perm.at(group), this.settings.tokens);
  }
}

/** A dataset's items with a shared prefix before each prompt (counted whole: a dataset prompt may join it anyhow). */
class PrefixedSource implements ItemSource {
  readonly description: Record<string, unknown>;
  readonly size: number;

  constructor(
    private readonly inner: ItemSource,
    private readonly prefixes: SharedPrefixes,
  ) {
    this.size = inner.size;
    this.description = { ...inner.description, sharedPrefix: prefixes.settings };
  }

  itemAt(index: number): WorkItem {
    const item = this.inner.itemAt(index);
    // A conversation's turns repeat their history; the multi-turn source owns what it opens with.
    if (item.conversation !== undefined || item.history !== undefined) return item;
    const group = this.prefixes.groupOf(index);
    const prompt = this.prefixes.text(group) + item.prompt;
    return {
      ...item,
      prompt,
      input_tokens: this.prefixes.synth.tokenizer.count(prompt),
      prefix_group: group,
    };
  }
}

class SyntheticSource implements ItemSource {
  readonly description: Record<string, unknown>;
  readonly size = Infinity;
  private readonly key: Key64;
  private readonly perm: Permutation;
  private readonly batch: number;
  private readonly imagePromptTokens: number;
  private readonly imageOutputTokens: number;
  private readonly prefixes: SharedPrefixes | null;

  constructor(
    opts: ItemSourceOptions,
    private readonly synth: PromptSynthesizer,
  ) {
    const scenario = opts.scenario;
    this.batch = positiveInt('batchSize', opts.batchSize ?? WORKLOAD_DEFAULTS.batchSize);
    this.imagePromptTokens = positiveInt(
      'imagePromptTokens',
      opts.imagePromptTokens ?? WORKLOAD_DEFAULTS.imagePromptTokens,
    );
    this.imageOutputTokens = positiveInt(
      'imageOutputTokens',
      opts.imageOutputTokens ?? WORKLOAD_DEFAULTS.imageOutputTokens,
    );
    // Only the options a scenario uses enter its description, so unrelated defaults never move a digest.
    const options: Record<string, unknown> = {};
    if (scenario.kind === 'E' || scenario.kind === 'R') options.batchSize = this.batch;
    if (scenario.kind === 'I') {
      options.imagePromptTokens = this.imagePromptTokens;
      options.imageOutputTokens = this.imageOutputTokens;
    }
    if (opts.sharedPrefix) {
      if (scenario.kind === 'E' || scenario.kind === 'R') {
        throw new InfermarkError(
          'E_WORKLOAD_OPTION',
          `spec.sharedPrefix applies to prompts that generate text (D, N, U, I, dataset), not ${scenario.kind} scenarios`,
          2,
        );
      }
      options.sharedPrefix = { tokens: opts.sharedPrefix.tokens, groups: opts.sharedPrefix.groups };
    }
    this.description = {
      generator: 'synthetic',
      algorithm: WORKLOAD_ALGORITHM,
      scenario: { ...scenario },
      task: opts.task,
      seed: opts.seed,
      iterationKey: opts.iterationKey,
      tokenizer: opts.tokenizer.name,
      corpus: { name: synth.corpus.name, digest: synth.corpus.digest },
      options,
    };
    this.key = keyFromString(canonicalJson(this.description));
    this.perm = new Permutation(synth.startCount, this.key);
    this.prefixes = opts.sharedPrefix ? new SharedPrefixes(opts.sharedPrefix, this.description, synth) : null;
  }

  /** Item `index`'s prompt of `tokens` own tokens at start position `start`, after its group's prefix if any. */
  private text(
    index: number,
    start: number,
    tokens: number,
  ): Pick<WorkItem, 'prompt' | 'input_tokens'> & {
    prefix_group?: number;
  } {
    const prefixes = this.prefixes;
    if (prefixes === null) return { prompt: this.synth.prompt(start, tokens), input_tokens: tokens };
    const group = prefixes.groupOf(index);
    const joined = appendExact(this.synth, prefixes.text(group), prefixes.settings.tokens, start, tokens);
    return { prompt: joined.text, input_tokens: joined.tokens, prefix_group: group };
  }

  itemAt(index: number): WorkItem {
    if (!Number.isSafeInteger(index) || index < 0)
      throw new RangeError(`item index must be ≥ 0, got ${index}`);
    const scenario = this.scenario;
    switch (scenario.kind) {
      case 'D':
      case 'N':
      case 'U': {
        const { inputTokens, outputTokens } = sampleTextLengths(scenario, Prng.forItem(this.key, index));
        return { index, ...this.text(index, this.perm.at(index), inputTokens), max_tokens: outputTokens };
      }
      case 'E': {
        const documents = this.texts(index, this.batch, scenario.tokensPerDocument);
        return {
          index,
          prompt: documents[0]!,
          documents,
          input_tokens: this.batch * scenario.tokensPerDocument,
          max_tokens: 0,
        };
      }
      case 'R': {
        // One start position per text: the query first, then the documents.
        const [query, ...documents] = this.texts(
          index,
          this.batch + 1,
          scenario.tokensPerQuery,
          scenario.tokensPerDocument,
        );
        return {
          index,
          prompt: query!,
          query: query!,
          documents,
          input_tokens: scenario.tokensPerQuery + this.batch * scenario.tokensPerDocument,
          max_tokens: 0,
        };
      }
      case 'I': {
        const count = scenario.count ?? 1;
        const images: string[] = [];
        for (let j = 0; j < count; j++) {
          images.push(makePngDataUrl(scenario.width, scenario.height, mix32(this.key, index * count + j)));
        }
        // Text tokens only: what an image costs in tokens is the server's vision encoder's business.
        const { prompt, input_tokens, prefix_group } = this.text(
          index,
          this.perm.at(index),
          this.imagePromptTokens,
        );
        return {
          index,
          prompt,
          images,
          input_tokens,
          max_tokens: this.imageOutputTokens,
          ...(prefix_group !== undefined ? { prefix_group } : {}),
        };
      }
      default:
        throw new InfermarkError('E_SCENARIO', `scenario ${scenario.kind} is not synthetic`);
    }
  }

  private get scenario(): Scenario {
    return this.description.scenario as Scenario;
  }

  /** `count` texts for item `index`; the first has `firstTokens`, the rest `restTokens`. */
  private texts(index: number, count: number, firstTokens: number, restTokens = firstTokens): string[] {
    const out: string[] = [];
    for (let j = 0; j < count; j++) {
      out.push(this.synth.prompt(this.perm.at(index * count + j), j === 0 ? firstTokens : restTokens));
    }
    return out;
  }
}

function positiveInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InfermarkError('E_WORKLOAD_OPTION', `${name} must be a positive integer, got ${value}`, 2);
  }
  return value;
}

/**
 * Digest of the first `count` items (fewer if the source is smaller): sha256 over each
 * item's canonical JSON, one per line. Depends only on the items' content, so sources
 * that produce byte-identical items have the same digest.
 */
export function workloadDigest(source: ItemSource, count: number): string {
  const n = Math.min(count, source.size);
  return itemsDigest(Array.from({ length: n }, (_, i) => source.itemAt(i)));
}

/** sha256 over each item's canonical JSON, one per line: the digest of items already built. */
export function itemsDigest(items: readonly WorkItem[]): string {
  const hash = createHash('sha256');
  for (const item of items) {
    hash.update(canonicalJson(item));
    hash.update('\n');
  }
  return `sha256:${hash.digest('hex')}`;
}
