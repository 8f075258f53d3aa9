// Traffic-scenario grammar: every form round-trips exactly; malformed strings say what was expected.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatScenario, parseScenario } from './scenario.js';
import type { Scenario } from './scenario-types.js';
import { defaultScenariosByTask, scenarioFitsTask, scenarioTaskKinds } from './tasks.js';

function parsed(text: string): Scenario {
  const r = parseScenario(text);
  assert.ok(r.ok, `expected ${text} to parse: ${r.ok ? '' : r.message}`);
  return r.scenario;
}

describe('parseScenario / formatScenario round trip', () => {
  const valid = [
    'D(100,100)',
    'D(1,1)',
    'D(7800,200)',
    'N(480,240)/(300,150)',
    'N(1,1)/(2,1)',
    'U(50,100)/(200,250)',
    'U(1,1)/(1,2)',
    'U(100,200)',
    'E(64)',
    'E(1024)',
    'R(1024,100)',
    'I(512,512)',
    'I(2048,2048,2)',
    'I(512,512,1)',
    'dataset',
  ];
  for (const text of valid) {
    it(`${text} prints back to itself`, () => {
      assert.equal(formatScenario(parsed(text)), text);
    });
  }

  it('every genai-bench default scenario parses and round-trips', () => {
    for (const list of Object.values(defaultScenariosByTask)) {
      for (const text of list) assert.equal(formatScenario(parsed(text)), text);
    }
  });

  it('random valid ASTs survive format → parse → format', () => {
    let state = 7;
    const rnd = (max: number): number => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return 1 + (state % max);
    };
    for (let i = 0; i < 500; i++) {
      const a = rnd(5000);
      const b = a + rnd(5000);
      const c = rnd(100);
      const d = 2 + c + rnd(100);
      const samples: Scenario[] = [
        { kind: 'D', input: a, output: c },
        { kind: 'N', inputMean: a, inputStd: rnd(300), outputMean: 1 + d, outputStd: rnd(50) },
        { kind: 'U', minInput: a, maxInput: b, minOutput: c, maxOutput: d, oneGroup: false },
        { kind: 'U', minInput: 1, maxInput: b, minOutput: 1, maxOutput: d, oneGroup: true },
        { kind: 'E', tokensPerDocument: a },
        { kind: 'R', tokensPerDocument: a, tokensPerQuery: c },
        { kind: 'I', width: a, height: b },
        { kind: 'I', width: a, height: b, count: c },
      ];
      for (const s of samples) {
        const text = formatScenario(s);
        assert.deepEqual(parsed(text), s);
        assert.equal(formatScenario(parsed(text)), text);
      }
    }
  });
});

describe('scenario semantics', () => {
  it('one-group U uses genai-bench minimums of 1', () => {
    assert.deepEqual(parsed('U(100,200)'), {
      kind: 'U',
      minInput: 1,
      maxInput: 100,
      minOutput: 1,
      maxOutput: 200,
      oneGroup: true,
    });
  });

  it('I(w,h) has no count; I(w,h,n) keeps it', () => {
    assert.deepEqual(parsed('I(512,256)'), { kind: 'I', width: 512, height: 256 });
    assert.deepEqual(parsed('I(512,256,3)'), { kind: 'I', width: 512, height: 256, count: 3 });
  });

  it('N keeps means and standard deviations in order', () => {
    assert.deepEqual(parsed('N(480,240)/(300,150)'), {
      kind: 'N',
      inputMean: 480,
      inputStd: 240,
      outputMean: 300,
      outputStd: 150,
    });
  });
});

describe('malformed scenarios', () => {
  const cases: [string, string | RegExp][] = [
    ['', 'expected a traffic scenario such as D(100,100)'],
    ['D(100, 100)', 'whitespace is not allowed in a traffic scenario (write "D(100,100)")'],
    [' D(100,100)', 'whitespace is not allowed'],
    ['D(100)', 'expected D(input_tokens,output_tokens) with positive integers'],
    ['D(100,100,100)', 'expected D(input_tokens,output_tokens) with positive integers'],
    ['D(0,100)', 'expected D(input_tokens,output_tokens) with positive integers'],
    ['D(-5,100)', 'expected D(input_tokens,output_tokens) with positive integers'],
    ['D(1.5,100)', 'input tokens must be an integer, got 1.5'],
    ['D(0100,100)', 'input tokens has leading zeros (0100): write 100'],
    ['D(100,100)x', 'expected D(input_tokens,output_tokens)'],
    ['D((100,100))', 'expected D(input_tokens,output_tokens)'],
    ['D(100,100)/(1,2)', 'expected D(input_tokens,output_tokens)'],
    ['D(,100)', 'input tokens is missing'],
    ['D(99999999999999999999,1)', 'input tokens is too large'],
    ['d(100,100)', 'scenario types are upper case: write "D(100,100)"'],
    ['X(1,2)', /^unknown traffic scenario: expected D\(in,out\)/],
    ['Dataset', 'expected "dataset" in lower case'],
    ['N(480,240)', 'expected N(mean_input,stddev_input)/(mean_output,stddev_output)'],
    ['N(480,-1)/(300,150)', 'standard deviation must be > 0 (input standard deviation is -1)'],
    ['N(480,0)/(300,150)', 'standard deviation must be > 0'],
    ['N(480,240)/(300,0)', 'standard deviation must be > 0 (output standard deviation is 0)'],
    ['N(480,240)/(1,150)', 'output tokens must be ≥ 2 (mean output tokens is 1)'],
    ['N(0,240)/(300,150)', 'mean input tokens must be ≥ 1, got 0'],
    ['U(200,100)/(10,20)', 'min must be ≤ max (input: 200 > 100)'],
    ['U(10,20)/(30,20)', 'min must be ≤ max (output: 30 > 20)'],
    ['U(0,100)/(10,20)', 'min input tokens must be ≥ 1, got 0'],
    ['U(100,1)', 'output tokens must be ≥ 2 (max output tokens is 1)'],
    ['U(1,1)/(1,1)', 'output tokens must be ≥ 2'],
    ['U(1,2,3)', 'expected U(min_input,max_input)/(min_output,max_output) or U(max_input,max_output)'],
    ['E()', 'tokens per document is missing'],
    ['E(abc)', 'tokens per document is not a number (abc)'],
    ['E(0)', 'tokens per document must be ≥ 1, got 0'],
    ['R(100)', 'expected R(tokens_per_document,tokens_per_query) with positive integers'],
    ['I(512)', 'expected I(width,height) or I(width,height,images) with positive integers'],
    ['I(512,512,0)', 'image count must be ≥ 1, got 0'],
    ['P(2000,500)/200', 'prefix-repetition scenarios P(prefix,suffix)/output are not supported yet'],
    ['V(2)', 'video scenarios V(n) are not supported yet'],
  ];
  for (const [text, expected] of cases) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      const r = parseScenario(text);
      assert.equal(r.ok, false);
      if (r.ok) return;
      if (typeof expected === 'string') assert.ok(r.message.includes(expected), `message was: ${r.message}`);
      else assert.match(r.message, expected);
    });
  }

  it('has at least 20 malformed cases', () => {
    assert.ok(cases.length >= 20);
  });
});

describe('scenario kinds per task', () => {
  it('matches genai-bench: D/N/U/dataset text, E embeddings, I images, R rerank', () => {
    assert.deepEqual(scenarioTaskKinds['text-to-text'], ['D', 'N', 'U', 'dataset']);
    assert.ok(scenarioFitsTask('E', 'text-to-embeddings'));
    assert.ok(scenarioFitsTask('I', 'image-to-text'));
    assert.ok(scenarioFitsTask('I', 'image-to-embeddings'));
    assert.ok(scenarioFitsTask('R', 'text-to-rerank'));
    assert.ok(!scenarioFitsTask('D', 'text-to-embeddings'));
    assert.ok(!scenarioFitsTask('E', 'text-to-text'));
  });
});
