/**
 * The simulator's check of OCI request signatures: requests signed by the official OCI
 * SDK's signer (oci-common, the same one the client uses) verify; a changed body, path or
 * header, a stale date, a signature that leaves out a required header, another key, and
 * no signature at all are each refused with their reason.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as common from 'oci-common';
import { makeOciConfig, type OciTestConfig } from '../backends/testing/oci-config.js';
import { readFileSync } from 'node:fs';
import { readPublicKey, signatureProblem, type SignedRequest } from './oci-signature.js';

let oci: OciTestConfig;
let other: OciTestConfig;
before(async () => {
  oci = await makeOciConfig();
  other = await makeOciConfig();
});
after(async () => {
  await oci.remove();
  await other.remove();
});

const BODY = JSON.stringify({
  servingMode: { modelId: 'm' },
  chatRequest: { apiFormat: 'COHERE', message: 'hé' },
});
const PATH = '/20231130/actions/chat';

/** A request as the SDK signs it, in the shape the simulator reads (lower-case header names). */
async function signed(config: OciTestConfig, body = BODY): Promise<SignedRequest> {
  const provider = new common.ConfigFileAuthenticationDetailsProvider(config.configFile, 'DEFAULT');
  const signer = new common.DefaultRequestSigner(provider);
  const headers = new Headers({ 'content-type': 'application/json' });
  await signer.signHttpRequest({ method: 'POST', uri: `http://127.0.0.1:9${PATH}`, headers, body });
  const out: Record<string, string> = {};
  headers.forEach((value, name) => (out[name] = value));
  return { method: 'POST', target: PATH, headers: out, body };
}

const key = (): ReturnType<typeof readPublicKey> => readPublicKey(readFileSync(oci.publicKeyFile));

test('a request signed by the OCI SDK verifies; its Authorization names the headers OCI requires', async () => {
  const req = await signed(oci);
  assert.equal(signatureProblem(req, key()), null);
  assert.match(
    String(req.headers.authorization),
    // The SDK writes Content-Type and Content-Length capitalized: header names are case-insensitive.
    /^Signature version="1",.*headers="x-date \(request-target\) host content-type content-length x-content-sha256"/i,
  );
});

test('each tampering is refused with its reason', async () => {
  const req = await signed(oci);
  const cases: [string, SignedRequest, RegExp][] = [
    ['body', { ...req, body: BODY.replace('hé', 'he') }, /content-length does not match|x-content-sha256/],
    ['same-length body', { ...req, body: BODY.replace('hé', 'hè') }, /x-content-sha256 does not match/],
    ['path', { ...req, target: '/20231130/actions/embedText' }, /does not verify/],
    ['host', { ...req, headers: { ...req.headers, host: 'elsewhere:1' } }, /does not verify/],
    ['no signature', { ...req, headers: { ...req.headers, authorization: undefined } }, /not signed/],
    [
      'stale date',
      { ...req, headers: { ...req.headers, 'x-date': new Date(Date.now() - 6 * 60_000).toUTCString() } },
      /more than 5 minutes/,
    ],
    [
      'headers list without the body hash',
      {
        ...req,
        headers: {
          ...req.headers,
          authorization: String(req.headers.authorization).replace(' x-content-sha256"', '"'),
        },
      },
      /does not cover x-content-sha256/,
    ],
    [
      'garbage',
      { ...req, headers: { ...req.headers, authorization: 'Bearer abc' } },
      /not an HTTP signature/,
    ],
  ];
  for (const [name, tampered, reason] of cases) {
    assert.match(signatureProblem(tampered, key()) ?? 'verified', reason, name);
  }
  assert.match(signatureProblem(await signed(other), key()) ?? 'verified', /does not verify/, 'another key');
});
