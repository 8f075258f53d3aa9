/**
 * The objects that install infermark's controller, as plain JSON the API server takes:
 * the BenchmarkJob CRD (from the job schema), the Namespace `infermark-system`, the
 * controller's ServiceAccount, RBAC (rbac.ts) and Deployment, and the runner's ClusterRole.
 * `deploy/controller.yaml` and `deploy/runner-rbac.yaml` are this module's output (a test
 * fails when they drift: `npm run manifests`); `infermark k8s manifests` prints them all.
 */
import { Document, isSeq, type Node as YamlNode } from 'yaml';
import { infermarkVersion } from '../evidence/environment.js';
import { benchmarkJobCrd } from '../spec/job-crd.js';
import {
  CONTROLLER_NAME,
  CONTROLLER_NAMESPACE,
  ENV,
  IMAGE_REPOSITORY,
  RUNNER_CLUSTER_ROLE,
} from './names.js';
import {
  CONTROLLER_LEASE_RULES,
  CONTROLLER_RULES,
  policyRules,
  RUNNER_RULES,
  type ExplainedRule,
} from './rbac.js';

export type Manifest = Record<string, unknown>;

/** Each role's rules with their reasons, which the YAML shows as comments. */
const REASONS = new WeakMap<Manifest, readonly ExplainedRule[]>();

function role(kind: 'Role' | 'ClusterRole', metadata: Manifest, rules: readonly ExplainedRule[]): Manifest {
  const manifest = { apiVersion: 'rbac.authorization.k8s.io/v1', kind, metadata, rules: policyRules(rules) };
  REASONS.set(manifest, rules);
  return manifest;
}

export interface ManifestOptions {
  /** Default: `ghcr.io/infermark/infermark:<package version>` (defaultImage()). */
  image?: string;
  /** Where the controller runs and holds its Lease; default `infermark-system`. */
  namespace?: string;
}

export function defaultImage(): string {
  return `${IMAGE_REPOSITORY}:${infermarkVersion()}`;
}

// Not `app.kubernetes.io/managed-by: infermark`: that label marks what the controller creates.
const LABELS = { 'app.kubernetes.io/name': 'infermark', 'app.kubernetes.io/component': 'controller' };

export function crd(): Manifest {
  return benchmarkJobCrd();
}

export function namespace(name: string = CONTROLLER_NAMESPACE): Manifest {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}

export function controllerServiceAccount(ns: string = CONTROLLER_NAMESPACE): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: CONTROLLER_NAME, namespace: ns, labels: LABELS },
  };
}

export function controllerClusterRole(): Manifest {
  return role('ClusterRole', { name: CONTROLLER_NAME, labels: LABELS }, CONTROLLER_RULES);
}

const subject = (ns: string): Manifest => ({ kind: 'ServiceAccount', name: CONTROLLER_NAME, namespace: ns });

export function controllerClusterRoleBinding(ns: string = CONTROLLER_NAMESPACE): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: CONTROLLER_NAME, labels: LABELS },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: CONTROLLER_NAME },
    subjects: [subject(ns)],
  };
}

/** Leader election's Lease, in the controller's namespace only. */
export function controllerLeaseRole(ns: string = CONTROLLER_NAMESPACE): Manifest {
  return role('Role', { name: CONTROLLER_NAME, namespace: ns, labels: LABELS }, CONTROLLER_LEASE_RULES);
}

export function controllerLeaseRoleBinding(ns: string = CONTROLLER_NAMESPACE): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: CONTROLLER_NAME, namespace: ns, labels: LABELS },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: CONTROLLER_NAME },
    subjects: [subject(ns)],
  };
}

/** What the run pods may do; the controller binds it to `infermark-runner` per namespace. */
export function runnerClusterRole(): Manifest {
  return role(
    'ClusterRole',
    { name: RUNNER_CLUSTER_ROLE, labels: { 'app.kubernetes.io/name': 'infermark' } },
    RUNNER_RULES,
  );
}

/** The image's non-root user (Dockerfile `USER`): numeric, so runAsNonRoot can be checked. */
export const IMAGE_UID = 10001;

/**
 * Two replicas: only the Lease holder reconciles, so the second one takes over at once when
 * the first is gone. The controller writes nothing to disk but Node's temporary files.
 */
export function controllerDeployment(options: ManifestOptions = {}): Manifest {
  const ns = options.namespace ?? CONTROLLER_NAMESPACE;
  const image = options.image ?? defaultImage();
  const fieldRef = (fieldPath: string): Manifest => ({ valueFrom: { fieldRef: { fieldPath } } });
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: CONTROLLER_NAME, namespace: ns, labels: LABELS },
    spec: {
      replicas: 2,
      selector: { matchLabels: LABELS },
      template: {
        metadata: { labels: LABELS },
        spec: {
          serviceAccountName: CONTROLLER_NAME,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: IMAGE_UID,
            runAsGroup: IMAGE_UID,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'controller',
              image,
              // The run pods get the same image unless a job's podOverride names another.
              command: ['infermark', 'controller', '--image', image],
              env: [
                // The Lease's namespace, and this replica's identity as its holder.
                { name: ENV.namespace, ...fieldRef('metadata.namespace') },
                { name: ENV.podName, ...fieldRef('metadata.name') },
              ],
              resources: {
                requests: { cpu: '50m', memory: '128Mi' },
                limits: { cpu: '500m', memory: '512Mi' },
              },
              securityContext: {
                readOnlyRootFilesystem: true,
                allowPrivilegeEscalation: false,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }],
        },
      },
    },
  };
}

/** deploy/controller.yaml: everything the controller needs but the CRD and the runner's role. */
export function controllerManifests(options: ManifestOptions = {}): Manifest[] {
  const ns = options.namespace ?? CONTROLLER_NAMESPACE;
  return [
    namespace(ns),
    controllerServiceAccount(ns),
    controllerClusterRole(),
    controllerClusterRoleBinding(ns),
    controllerLeaseRole(ns),
    controllerLeaseRoleBinding(ns),
    controllerDeployment(options),
  ];
}

/** deploy/runner-rbac.yaml. */
export function runnerManifests(): Manifest[] {
  return [runnerClusterRole()];
}

/** Everything, in the order `kubectl apply -f -` needs: the CRD, then RBAC, then the Deployment. */
export function allManifests(options: ManifestOptions = {}): Manifest[] {
  return [crd(), ...runnerManifests(), ...controllerManifests(options)];
}

/** A multi-document YAML stream (documents separated by `---`), each RBAC rule under its reason. */
export function toYamlDocuments(manifests: Manifest[], header = ''): string {
  const documents = manifests.map((manifest) => {
    const doc = new Document(manifest);
    const reasons = REASONS.get(manifest);
    const rules = doc.get('rules', true);
    if (reasons && isSeq(rules)) {
      rules.items.forEach((item, i) => {
        (item as YamlNode).commentBefore = ` ${reasons[i]?.reason ?? ''}`;
      });
    }
    // Single quotes: as prettier writes YAML (lint checks deploy/).
    return doc.toString({ lineWidth: 0, singleQuote: true });
  });
  return header + documents.join('---\n');
}
