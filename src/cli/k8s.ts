/**
 * `infermark k8s …`: BenchmarkJobs on a Kubernetes cluster from a terminal, for people
 * without the operator (or beside it), in the spirit of AIPerf's `kube` commands:
 * `manifests` prints what installs the controller, `submit` creates a BenchmarkJob and
 * follows it, `status`, `logs` and `results` read it back. This file only parses; each
 * action imports k8s-commands.ts lazily (the Kubernetes client is loaded only here).
 */
import type { Command } from 'commander';
import { CONTROLLER_NAMESPACE } from '../k8s/names.js';
import { collect } from './run-flags.js';

function clusterOptions(command: Command): Command {
  return command
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)')
    .option('--context <name>', "the kubeconfig's context (default: its current one)")
    .option(
      '-n, --namespace <ns>',
      "the namespace (default: the job's metadata.namespace, else the context's)",
    );
}

export function registerK8sCommands(program: Command): void {
  const k8s = program
    .command('k8s')
    .description('BenchmarkJobs on a Kubernetes cluster: submit, follow, read results (docs/k8s.md)');

  k8s
    .command('manifests')
    .description("print the CRD, RBAC and the controller's Deployment as YAML (kubectl apply -f -)")
    .option(
      '--image <image>',
      'the controller and benchmark image (default: ghcr.io/infermark/infermark:<version>)',
    )
    .option('-n, --namespace <ns>', "the controller's namespace", CONTROLLER_NAMESPACE)
    .action(async (flags: { image?: string; namespace: string }) => {
      const { manifestsCommand } = await import('./k8s-commands.js');
      process.exitCode = manifestsCommand(flags);
    });

  clusterOptions(
    k8s
      .command('submit')
      .description(
        'validate a BenchmarkJob and create it; --wait follows it (exit 0 Completed, 1 Failed, 130 Cancelled, 124 timeout)',
      )
      .argument('<job>', 'BenchmarkJob YAML file'),
  )
    .option('--wait', 'follow its status until it ends, then print the summary')
    .option('--timeout <seconds>', 'with --wait: stop waiting after this long (exit 124)')
    .option('--replace', 'delete a BenchmarkJob of the same name first (its pods stop) instead of failing')
    .action(async (file: string, flags) => {
      const { submitCommand } = await import('./k8s-commands.js');
      process.exitCode = await submitCommand(file, flags);
    });

  clusterOptions(
    k8s
      .command('status')
      .description("a BenchmarkJob's state, run, iterations and results")
      .argument('<name>', 'the BenchmarkJob'),
  )
    .option('--json', 'print its status as JSON')
    .action(async (name: string, flags) => {
      const { statusCommand } = await import('./k8s-commands.js');
      process.exitCode = await statusCommand(name, flags);
    });

  clusterOptions(
    k8s
      .command('logs')
      .description("the run pod's log (through the API server)")
      .argument('<name>', 'the BenchmarkJob'),
  )
    .option('-f, --follow', 'wait for the pod to start and stream its log until it ends')
    .action(async (name: string, flags) => {
      const { logsCommand } = await import('./k8s-commands.js');
      process.exitCode = await logsCommand(name, flags);
    });

  clusterOptions(
    k8s
      .command('results')
      .description(
        'download the run folder from its outputLocation and verify it (exit 0, 3 partial, 1 corrupt)',
      )
      .argument('<name>', 'the BenchmarkJob'),
  )
    .option('--out <dir>', 'local folder (default: ./<run_id>)')
    .option('--param <name=value>', 'storage parameter, e.g. aws_region=us-east-1 (repeatable)', collect)
    .option('--json', 'print the verify report as JSON')
    .action(async (name: string, flags) => {
      const { resultsCommand } = await import('./k8s-commands.js');
      process.exitCode = await resultsCommand(name, flags);
    });
}
