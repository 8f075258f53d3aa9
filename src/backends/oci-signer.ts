/**
 * OCI request signing with the official SDK's signer (oci-common's DefaultRequestSigner):
 * draft-cavage HTTP signatures over `x-date`, `(request-target)`, `host` and, for a POST,
 * `content-type`, `content-length` and `x-content-sha256` (the SHA-256 of the exact body
 * sent). The key comes from an OCI config file and profile, or from the instance principal
 * (the instance's certificate from the metadata service). The SDK is loaded only when an
 * OCI format is used. Neither the key nor the Authorization header is ever logged or kept:
 * errors name the file and profile only.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '../base/errors.js';
import type { OciSigning } from './backend.js';
import type { RequestSigning } from './format-backend.js';

/** The OCI CLI's default config file. */
export function defaultOciConfigFile(): string {
  return join(homedir(), '.oci', 'config');
}

/**
 * A signing function for `signing`, its key loaded now.
 * @throws ValidationError when the config file, its profile or its key cannot be used, or
 *   the instance principal cannot be had.
 */
export async function ociRequestSigning(signing: OciSigning): Promise<RequestSigning> {
  const common = await import('oci-common');
  let provider:
    | InstanceType<typeof common.ConfigFileAuthenticationDetailsProvider>
    | Awaited<
        ReturnType<
          InstanceType<typeof common.InstancePrincipalsAuthenticationDetailsProviderBuilder>['build']
        >
      >;
  if (signing.auth === 'config-file') {
    const file = signing.configFile ?? defaultOciConfigFile();
    const profile = signing.profile ?? 'DEFAULT';
    const path = signing.configFile !== undefined ? 'spec.oci.configFile' : 'spec.oci';
    if (!existsSync(file)) {
      throw new ValidationError([
        { path, value: file, message: 'no OCI config file there (set spec.oci.configFile)' },
      ]);
    }
    try {
      provider = new common.ConfigFileAuthenticationDetailsProvider(file, profile);
      // Parse the key now: a wrong key file or passphrase is a setup error, not 100% failed requests.
      new common.DefaultRequestSigner(provider);
    } catch (error) {
      // The SDK's errors name the missing field or file; none holds a key.
      throw new ValidationError([{ path, value: file, message: `profile [${profile}]: ${describe(error)}` }]);
    }
  } else {
    try {
      provider = await new common.InstancePrincipalsAuthenticationDetailsProviderBuilder().build();
    } catch (error) {
      throw new ValidationError([
        {
          path: 'spec.oci.auth',
          value: 'instance-principal',
          message: `cannot get the instance's identity from the metadata service (${describe(error)}): run on an OCI instance in a dynamic group, or use auth config-file`,
        },
      ]);
    }
  }
  const signer = new common.DefaultRequestSigner(provider);
  return async (method, url, headers, body) => {
    const request = { method: method as 'POST', uri: url, headers: new Headers(headers), body };
    await signer.signHttpRequest(request);
    const added: Record<string, string> = {};
    // Every header the signer set or changed (authorization above all): one it replaced
    // must not lose to the caller's value.
    request.headers.forEach((value, name) => {
      if (headers[name] !== value) added[name] = value;
    });
    return added;
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
