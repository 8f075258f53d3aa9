/**
 * Benchmark tasks and which traffic-scenario kinds fit each, with genai-bench's
 * per-task default scenarios (genai_bench/cli/validation.py, DEFAULT_SCENARIOS_BY_TASK).
 */
import type { Scenario } from './scenario-types.js';

/** The tasks OME's BenchmarkJob accepts (kubebuilder enum on `spec.task`). */
export const omeTasks = [
  'text-to-text',
  'text-to-embeddings',
  'image-to-text',
  'image-to-embeddings',
] as const;

/** An OME task name. */
export type Task = (typeof omeTasks)[number];

/**
 * genai-bench's task names, a superset of OME's: `text-to-rerank` exists in genai-bench but
 * OME's enum does not admit it, so a BenchmarkJob cannot ask for it (kept here for R(...)).
 */
export type GenaiBenchTask = Task | 'text-to-rerank';

/**
 * Scenario kinds per task. `dataset` (raw dataset entries, no token shaping) is listed only
 * for text-to-text: genai-bench allows it for every task, but infermark's workload reads
 * datasets for text generation only.
 */
export const scenarioTaskKinds: Readonly<Record<GenaiBenchTask, readonly Scenario['kind'][]>> = {
  'text-to-text': ['D', 'N', 'U', 'dataset'],
  // R too: OME's enum has no rerank task, and rerank models are served beside embedding models (vLLM, TEI).
  'text-to-embeddings': ['E', 'R'],
  'text-to-rerank': ['R'],
  'image-to-text': ['I'],
  'image-to-embeddings': ['I'],
};

/** Whether a scenario kind can drive a task (`D` for text-to-text, `E` for text-to-embeddings, ...). */
export function scenarioFitsTask(kind: Scenario['kind'], task: GenaiBenchTask): boolean {
  return scenarioTaskKinds[task].includes(kind);
}

/**
 * genai-bench's default traffic scenarios per task, used when a job omits
 * `trafficScenarios` (OME: "If not provided, defaults will be assigned via genai-bench").
 */
export const defaultScenariosByTask: Readonly<Record<GenaiBenchTask, readonly string[]>> = {
  'text-to-text': ['N(480,240)/(300,150)', 'D(100,100)', 'D(100,1000)', 'D(2000,200)', 'D(7800,200)'],
  'text-to-embeddings': ['E(64)', 'E(128)', 'E(256)', 'E(512)', 'E(1024)'],
  'text-to-rerank': [
    'R(64,100)',
    'R(128,100)',
    'R(256,100)',
    'R(512,100)',
    'R(1024,100)',
    'R(2096,100)',
    'R(4096,100)',
  ],
  'image-to-text': ['I(512,512)', 'I(1024,512)', 'I(2048,2048)'],
  'image-to-embeddings': ['I(512,512)', 'I(1024,512)', 'I(2048,2048)'],
};

/** genai-bench's default concurrency sweep (DEFAULT_NUM_CONCURRENCIES). */
export const defaultNumConcurrency: readonly number[] = [1, 2, 4, 8, 16, 32, 64, 128, 256];
