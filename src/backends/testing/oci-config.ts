/**
 * Test support: an RSA key pair and an OCI config file in a temporary folder, as
 * `oci setup config` writes them, for signing tests against the simulator (started with
 * the public key's file as `ociPublicKey`). Nothing here reaches OCI.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface OciTestConfig {
  dir: string;
  /** The config file (profile DEFAULT). */
  configFile: string;
  /** The public key's PEM file, for the simulator. */
  publicKeyFile: string;
  remove(): Promise<void>;
}

/** A fresh key pair and a config file naming it. */
export async function makeOciConfig(): Promise<OciTestConfig> {
  const dir = await mkdtemp(join(tmpdir(), 'infermark-oci-'));
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const fingerprint = (createHash('md5').update(der).digest('hex').match(/../g) ?? []).join(':');
  const keyFile = join(dir, 'oci_api_key.pem');
  const publicKeyFile = join(dir, 'oci_api_key_public.pem');
  const configFile = join(dir, 'config');
  await writeFile(keyFile, privatePem, { mode: 0o600 });
  await writeFile(publicKeyFile, publicPem);
  await writeFile(
    configFile,
    [
      '[DEFAULT]',
      'user=ocid1.user.oc1..infermarktest',
      `fingerprint=${fingerprint}`,
      'tenancy=ocid1.tenancy.oc1..infermarktest',
      'region=us-chicago-1',
      `key_file=${keyFile}`,
      '',
    ].join('\n'),
  );
  return { dir, configFile, publicKeyFile, remove: () => rm(dir, { recursive: true, force: true }) };
}
