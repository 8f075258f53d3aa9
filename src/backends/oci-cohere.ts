/**
 * OCI Generative AI inference for Cohere models (`apiFormat: oci-cohere`): chat
 * `POST /20231130/actions/chat` with `{compartmentId, servingMode: {servingType: ON_DEMAND,
 * modelId}, chatRequest: {apiFormat: COHERE, message, chatHistory, maxTokens, isStream}}`,
 * embed `POST /20231130/actions/embedText` with `{compartmentId, servingMode, inputs}`, each
 * request signed (oci-signer.ts). Answers read as oci-dialect.ts says. The job's
 * additionalRequestParams go into `chatRequest` (OCI's names: `temperature`, `topP`, ...).
 */
import type { WorkItem } from '../workload/work-item.js';
import type { Backend, BackendKind, BackendOptions, OciSigning } from './backend.js';
import { FormatBackend, type RequestSigning, type WireFormat, type WireRequest } from './format-backend.js';
import { OCI_DIALECTS } from './oci-dialect.js';
import { ociRequestSigning } from './oci-signer.js';

/** The paths, below the base URL's prefix (the service endpoint, `https://inference.generativeai.<region>.oci.oraclecloud.com`). */
export const OCI_PATHS = { chat: '/20231130/actions/chat', embed: '/20231130/actions/embedText' } as const;

/** OCI's role names for a chat history. */
const OCI_ROLES = { system: 'SYSTEM', user: 'USER', assistant: 'CHATBOT' } as const;

function servingMode(model: string): Record<string, unknown> {
  return { servingType: 'ON_DEMAND', modelId: model };
}

/** The body of a chat request. */
export function ociChatBody(
  options: Pick<BackendOptions, 'model' | 'stream' | 'additionalParams'>,
  compartmentId: string,
  item: WorkItem,
): Record<string, unknown> {
  const chatRequest: Record<string, unknown> = {
    apiFormat: 'COHERE',
    message: item.prompt,
    maxTokens: item.max_tokens,
    isStream: options.stream,
  };
  if (item.history !== undefined && item.history.length > 0) {
    chatRequest.chatHistory = item.history.map((m) => ({ role: OCI_ROLES[m.role], message: m.content }));
  }
  for (const key of Object.keys(options.additionalParams)) chatRequest[key] = options.additionalParams[key];
  return { compartmentId, servingMode: servingMode(options.model), chatRequest };
}

/** The body of an embedText request: the item's documents (E), else its prompt. */
export function ociEmbedBody(model: string, compartmentId: string, item: WorkItem): Record<string, unknown> {
  const inputs = item.documents !== undefined && item.documents.length > 0 ? item.documents : [item.prompt];
  return { compartmentId, servingMode: servingMode(model), inputs, truncate: 'NONE' };
}

export function ociCohereFormat(
  kind: 'oci-cohere-chat' | 'oci-cohere-embed',
  compartmentId: string,
): WireFormat {
  return {
    dialects: OCI_DIALECTS,
    request(item, options): WireRequest {
      if (kind === 'oci-cohere-chat') {
        const body = ociChatBody(options, compartmentId, item);
        // The length finally asked (additionalRequestParams may set maxTokens) sizes the bounds.
        const asked = (body.chatRequest as { maxTokens?: unknown }).maxTokens;
        return {
          operation: 'generate',
          path: OCI_PATHS.chat,
          body,
          tokensAsked: typeof asked === 'number' ? asked : item.max_tokens,
        };
      }
      return {
        operation: 'embed',
        path: OCI_PATHS.embed,
        body: ociEmbedBody(options.model, compartmentId, item),
        tokensAsked: 0,
      };
    },
  };
}

/** The adapter for an OCI kind; its signing key is loaded by `prepare()` (the engine calls it before sending). */
export function createOciCohereBackend(kind: BackendKind, options: BackendOptions): Backend {
  if (kind !== 'oci-cohere-chat' && kind !== 'oci-cohere-embed')
    throw new TypeError(`not an OCI kind: ${kind}`);
  const oci = options.oci;
  if (oci === undefined) throw new TypeError('the OCI formats need options.oci (spec.oci)');
  return new OciBackend(kind, options, oci);
}

class OciBackend extends FormatBackend {
  private signing: RequestSigning | null = null;

  constructor(
    kind: 'oci-cohere-chat' | 'oci-cohere-embed',
    options: BackendOptions,
    private readonly oci: OciSigning,
  ) {
    super(kind, options, ociCohereFormat(kind, oci.compartmentId), (method, url, headers, body) =>
      this.signOne(method, url, headers, body),
    );
  }

  async prepare(): Promise<void> {
    this.signing ??= await ociRequestSigning(this.oci);
  }

  private async signOne(
    method: string,
    url: string,
    headers: Record<string, string>,
    body: string,
  ): Promise<Record<string, string>> {
    await this.prepare();
    return (this.signing as RequestSigning)(method, url, headers, body);
  }
}
