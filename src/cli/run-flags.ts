/**
 * The flags of `run` and `demo`, defined once: the commander definitions main.ts parses
 * with, and the types run.ts and demo.ts read, inferred from those definitions by
 * @commander-js/extra-typings (a flag added here is typed there, and cannot drift).
 */
import type { Command, OptionValues } from '@commander-js/extra-typings';
import type { Command as UntypedCommand } from 'commander';

export const DEFAULT_OUT = '.infermark/runs';

/** A repeatable option's values, in the order given. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/**
 * A command made by commander, seen through extra-typings' types. It is the same object
 * (extra-typings re-exports commander's classes and adds only type parameters); main.ts
 * and the other commands keep commander's own types, which the typed ones do not accept.
 */
function typed(command: UntypedCommand): Command {
  return command as unknown as Command;
}

/** `run`'s argument and options, on the command main.ts created. */
export function defineRunCommand(command: UntypedCommand) {
  return withRunOutputOptions(
    typed(command)
      .description('run a BenchmarkJob (job.yaml), or one built from flags')
      .argument('[job]', 'BenchmarkJob YAML file')
      .option('--url <url>', "endpoint URL (overrides the job's, e.g. outside the cluster)")
      .option('--model <name>', "model name (overrides the job's)")
      .option('--scenario <scenario>', "traffic scenario, e.g. 'D(100,100)' (repeatable)", collect)
      .option('--concurrency <list>', 'concurrency levels, e.g. 1,4,16')
      .option('--rate <list>', 'open-loop request rates in req/s, e.g. 5,10')
      .option('--arrival <distribution>', 'arrivals for --rate: constant, poisson or gamma')
      .option('--burstiness <shape>', 'gamma shape for --arrival gamma (1 = poisson)')
      .option('--trace <file>', 'replay a trace file (Mooncake JSONL or Azure CSV)')
      .option('--dataset <file>', 'dataset file (ShareGPT JSONL) for the dataset scenario')
      .option(
        '--prefix-tokens <n>',
        'every prompt opens with a shared prefix of N tokens, added to the scenario input (spec.sharedPrefix)',
      )
      .option('--prefix-groups <n>', 'distinct shared prefixes, request i taking prefix i mod n (default 1)')
      .option('--task <task>', 'text-to-text, text-to-embeddings, image-to-text, image-to-embeddings')
      .option('--max-requests <n>', 'measured requests per iteration')
      .option('--max-time <minutes>', 'time limit per iteration, minutes')
      .option('--warmup-requests <n>', 'warmup requests per iteration (not measured)')
      .option('--warmup-seconds <s>', 'warmup seconds per iteration (not measured)')
      .option('--slo <slo>', "goodput SLO, e.g. 'p99_ttft_ms<=500' (repeatable)", collect)
      .option('--seed <n>', 'workload seed')
      .option('--repeats <k>', "run the whole job K times, one run group (overrides the job's)")
      .option(
        '--workers <n|auto>',
        "split the run over N local worker processes (auto: one per core; overrides the job's)",
      )
      .option('--tokenizer <name|file>', 'o200k_base, cl100k_base, or a tokenizer.json')
      .option('--no-stream', 'send non-streaming requests')
      .option('--no-ignore-eos', 'do not ask the server to ignore EOS')
      .option('--timeout <s>', 'per-request timeout, seconds')
      .option('--api <api>', 'chat or completions, when the URL does not say')
      .option('--api-format <format>', 'openai (default), cohere or oci-cohere (docs/api-formats.md)')
      .option('--oci-auth <kind>', 'oci-cohere signing: config-file (default) or instance-principal')
      .option('--oci-config-file <file>', 'oci-cohere: the OCI config file (default ~/.oci/config)')
      .option('--oci-profile <name>', 'oci-cohere: the config file profile (default DEFAULT)')
      .option('--oci-compartment <ocid>', 'oci-cohere: the compartment every request names')
      .option('--api-key-env <var>', 'read the API key from this environment variable')
      .option('--api-key-file <file>', 'read the API key from this file')
      .option('--metrics-url <url>', 'server Prometheus endpoint to scrape')
      .option(
        '--metrics-interval <s>',
        'seconds between scrapes of the server metrics during an iteration (default 2)',
      )
      .option(
        '--telemetry <[role=]url>',
        'Prometheus endpoint to scrape during every iteration, role server (default), gpu, node or cluster (repeatable)',
        collect,
      )
      .option('--param <key=value>', 'extra request body parameter (repeatable)', collect)
      .option(
        '--max-error-rate <ratio>',
        'fail the run (exit 1) when errored / (completed + errored) measured requests is above this, 0..1 (default 0.5)',
      )
      .option('--no-preflight', 'do not check the model name against GET /v1/models before the run')
      .option(
        '--coordinator-listen <host:port>',
        'split run with workers started elsewhere (shard pods): the coordinator listens here, token from INFERMARK_COORDINATOR_TOKEN',
      ),
  );
}

/** `demo`'s options, on the command main.ts created: those of `run` that say where results go and how they print. */
export function defineDemoCommand(command: UntypedCommand) {
  return withRunOutputOptions(
    typed(command).description('start the simulator on loopback and run examples/demo.yaml against it'),
  );
}

/** Where the run goes (folder, warehouse, hot metrics) and how it prints; `run` and `demo` alike, in this order. */
function withRunOutputOptions<A extends unknown[], O extends OptionValues>(command: Command<A, O>) {
  return command
    .option('--out <dir>', 'parent folder of run folders', DEFAULT_OUT)
    .option(
      '--warehouse <path>',
      'ingest the run into this warehouse (default: $INFERMARK_WAREHOUSE or the user data dir)',
    )
    .option('--no-warehouse', 'do not ingest the run into the warehouse')
    .option(
      '--metrics-port <port>',
      'serve hot metrics for Prometheus at /metrics on this port during the run',
    )
    .option('--metrics-host <host>', 'interface for --metrics-port', '127.0.0.1')
    .option('--json', 'print the result as JSON on stdout')
    .option('--quiet', 'no progress output');
}

/** `infermark run`'s options as commander gives them to the action. */
export type RunFlags = ReturnType<ReturnType<typeof defineRunCommand>['opts']>;

/** `infermark demo`'s options as commander gives them to the action. */
export type DemoFlags = ReturnType<ReturnType<typeof defineDemoCommand>['opts']>;
