/**
 * `infermark controller`: the Kubernetes controller for BenchmarkJobs (docs/k8s.md), as the
 * Deployment in deploy/ runs it. It leads through a Lease, so two replicas are safe; SIGTERM
 * releases the Lease at once, so a successor need not wait its duration.
 */
import { ExitCode, InfermarkError } from '../base/errors.js';

export interface ControllerFlags {
  namespace?: string;
  allNamespaces?: boolean;
  selector?: string;
  image?: string;
  leaseNamespace?: string;
  identity?: string;
  kubeconfig?: string;
  context?: string;
  resyncSeconds?: string;
  leaseDurationSeconds?: string;
  coordinatorPort?: string;
}

export async function controllerCommand(flags: ControllerFlags): Promise<number> {
  if (flags.namespace && flags.allNamespaces) {
    throw new InfermarkError(
      'E_FLAGS',
      '--namespace and --all-namespaces: give one of them',
      ExitCode.badInput,
    );
  }
  const resyncS = flags.resyncSeconds === undefined ? 30 : Number(flags.resyncSeconds);
  if (!Number.isFinite(resyncS) || resyncS < 1 || resyncS > 3600) {
    throw new InfermarkError(
      'E_FLAGS',
      `--resync-seconds: "${flags.resyncSeconds}": expected a number of seconds from 1 to 3600`,
      ExitCode.badInput,
    );
  }
  const leaseS = flags.leaseDurationSeconds === undefined ? 15 : Number(flags.leaseDurationSeconds);
  if (!Number.isInteger(leaseS) || leaseS < 2 || leaseS > 300) {
    throw new InfermarkError(
      'E_FLAGS',
      `--lease-duration-seconds: "${flags.leaseDurationSeconds}": expected a whole number of seconds from 2 to 300`,
      ExitCode.badInput,
    );
  }
  const port = flags.coordinatorPort === undefined ? undefined : Number(flags.coordinatorPort);
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new InfermarkError(
      'E_FLAGS',
      `--coordinator-port: "${flags.coordinatorPort}": expected a port from 1 to 65535`,
      ExitCode.badInput,
    );
  }
  const { loadKubeConfig } = await import('../k8s/kube.js');
  const { runController } = await import('../k8s/controller.js');
  const { defaultImage } = await import('../k8s/manifests.js');
  const kc = loadKubeConfig({
    ...(flags.kubeconfig ? { path: flags.kubeconfig } : {}),
    ...(flags.context ? { context: flags.context } : {}),
  });
  const abort = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => abort.abort());
  // In its pod (deploy/controller.yaml) the Lease lives in its own namespace, from the downward API.
  const leaseNamespace = flags.leaseNamespace ?? process.env.INFERMARK_NAMESPACE ?? 'default';
  await runController(
    {
      kc,
      image: flags.image ?? process.env.INFERMARK_IMAGE ?? defaultImage(),
      ...(flags.namespace ? { namespace: flags.namespace } : {}),
      ...(flags.selector ? { selector: flags.selector } : {}),
      leaseNamespace,
      ...((flags.identity ?? process.env.INFERMARK_POD_NAME)
        ? { identity: flags.identity ?? process.env.INFERMARK_POD_NAME }
        : {}),
      resyncMs: resyncS * 1000,
      leaseDurationS: leaseS,
      // Renew at a third of the duration, as client-go's defaults do (15 s / 5 s).
      leaseRenewMs: Math.max(500, Math.floor((leaseS * 1000) / 3)),
      ...(port ? { coordinatorPort: port } : {}),
    },
    abort.signal,
  );
  return ExitCode.ok;
}
