/**
 * Traffic-scenario AST, genai-bench's grammar. `formatScenario(parseScenario(s)) === s`
 * for every valid `s` (see scenario.ts), so each variant keeps what it needs to print back.
 */
export type Scenario =
  /** `D(in,out)`: deterministic lengths. */
  | { kind: 'D'; input: number; output: number }
  /** `N(μin,σin)/(μout,σout)`: normal, truncated to input ≥ 1, output ≥ 2. */
  | { kind: 'N'; inputMean: number; inputStd: number; outputMean: number; outputStd: number }
  /**
   * `U(minIn,maxIn)/(minOut,maxOut)`, or the one-group `U(maxIn,maxOut)` (`oneGroup: true`,
   * mins as genai-bench defines them for that form).
   */
  | {
      kind: 'U';
      minInput: number;
      maxInput: number;
      minOutput: number;
      maxOutput: number;
      oneGroup: boolean;
    }
  /** `E(tokensPerDoc)`: embeddings. */
  | { kind: 'E'; tokensPerDocument: number }
  /** `R(tokensPerDoc,tokensPerQuery)`: rerank. */
  | { kind: 'R'; tokensPerDocument: number; tokensPerQuery: number }
  /** `I(w,h)` or `I(w,h,n)`: n images of w×h (`count` given only when written). */
  | { kind: 'I'; width: number; height: number; count?: number }
  /** `dataset`: lengths come from the job's dataset file. */
  | { kind: 'dataset' };
