import type { TableClient } from '@azure/data-tables';
import { StorageNames, type BrokerStorage } from './brokerStorage.js';
import type { RequestIssue } from '../requests/parseLifecycleRequest.js';
import { inspectJson } from '../requests/jsonInspection.js';
import { REDACTED, redacted, redactRawSecrets } from '../requests/rawSecrets.js';
import { redact as redactCredentials } from '../logger.js';
import { hasStatus } from '../azure/azureErrors.js';

export interface RejectedMessage {
  id: string;
  receivedAt: string;
  /** Where it came from: the intake queue, or its poison queue after repeated failures. */
  source: 'queue' | 'poison';
  code: string;
  reason: string;
  issues: RequestIssue[];
  /** The request id, when the message carried a readable one. */
  requestId?: string | undefined;
  messageId: string;
  dequeueCount: number;
  /** The size of the message as it arrived. */
  sizeBytes: number;
  /** The first characters of the stored text; the whole stored text is kept in blob storage. */
  preview: string;
}

interface RejectedEntity {
  partitionKey: string;
  rowKey: string;
  receivedAt: string;
  source: string;
  code: string;
  reason: string;
  issuesJson: string;
  requestId?: string;
  messageId: string;
  dequeueCount: number;
  sizeBytes: number;
  preview: string;
}

const PARTITION = 'rejected';
const PREVIEW_CHARS = 2_000;
const MAX_ISSUES = 50;
const MAX_ISSUE_CHARS = 500;
const MAX_TIME = 9_999_999_999_999;

/**
 * Messages the intake refused, each with its reason and its text, where operators can list them
 * (`GET /api/rejected`, `claw-broker rejected`). Keyed by the queue message id, so a message
 * processed twice is recorded once. Newest first.
 *
 * Redacted before anything is written: every match of the raw-secret detector is masked in the
 * stored text, the preview, the reason and the issues, and the reason says how many were masked.
 * The original text is never kept, so neither listing nor reading a message can return a secret.
 */
export class RejectedMessageStore {
  constructor(private readonly storage: BrokerStorage) {}

  async add(
    message: Omit<RejectedMessage, 'id' | 'preview' | 'sizeBytes'>,
    originalText: string,
  ): Promise<RejectedMessage> {
    const id = `${String(MAX_TIME - Date.parse(message.receivedAt)).padStart(13, '0')}-${message.messageId}`;
    const stored = redactForStorage(originalText);
    const container = await this.storage.container(StorageNames.rejectedContainer);
    await container.getBlockBlobClient(`${id}.txt`).upload(stored.text, Buffer.byteLength(stored.text), {
      blobHTTPHeaders: { blobContentType: 'text/plain; charset=utf-8' },
    });
    const entity: RejectedEntity = {
      partitionKey: PARTITION,
      rowKey: id,
      receivedAt: message.receivedAt,
      source: message.source,
      code: message.code,
      reason: `${redacted(message.reason)}${stored.note}`,
      issuesJson: JSON.stringify(boundedIssues(message.issues)),
      messageId: message.messageId,
      dequeueCount: message.dequeueCount,
      sizeBytes: Buffer.byteLength(originalText),
      preview: stored.text.slice(0, PREVIEW_CHARS),
      ...(message.requestId ? { requestId: message.requestId } : {}),
    };
    const table = await this.table();
    await table.upsertEntity(entity, 'Replace');
    return fromEntity(entity);
  }

  async list(options: { limit?: number } = {}): Promise<RejectedMessage[]> {
    const table = await this.table();
    const limit = options.limit ?? 100;
    const items: RejectedMessage[] = [];
    for await (const entity of table.listEntities<RejectedEntity>({
      queryOptions: { filter: `PartitionKey eq '${PARTITION}'` },
    })) {
      items.push(fromEntity(entity));
      if (items.length >= limit) break;
    }
    return items;
  }

  async get(id: string): Promise<{ message: RejectedMessage; originalText: string } | undefined> {
    const table = await this.table();
    try {
      const entity = await table.getEntity<RejectedEntity>(PARTITION, id);
      const container = await this.storage.container(StorageNames.rejectedContainer);
      const blob = await container.getBlockBlobClient(`${id}.txt`).downloadToBuffer();
      // Masked again on the way out: a record written before redaction existed keeps no secret either.
      return { message: fromEntity(entity), originalText: redacted(blob.toString('utf8')) };
    } catch (error) {
      if (hasStatus(error, 404)) return undefined;
      throw error;
    }
  }

  private table(): Promise<TableClient> {
    return this.storage.table(StorageNames.rejectedTable);
  }
}

function fromEntity(entity: RejectedEntity): RejectedMessage {
  return {
    id: entity.rowKey,
    receivedAt: entity.receivedAt,
    source: entity.source as RejectedMessage['source'],
    code: entity.code,
    reason: redacted(entity.reason),
    issues: boundedIssues(JSON.parse(entity.issuesJson) as RequestIssue[]),
    requestId: entity.requestId,
    messageId: entity.messageId,
    dequeueCount: entity.dequeueCount,
    sizeBytes: entity.sizeBytes,
    preview: redacted(entity.preview),
  };
}

/**
 * The text to store for a rejected message: every raw-secret match masked. A secret that the text
 * hides behind JSON escapes (`\u0031...`) cannot be masked in place; then the text is withheld
 * whole. The note is appended to the reason.
 */
function redactForStorage(originalText: string): { text: string; note: string } {
  const detected = redactRawSecrets(originalText);
  const { masked } = detected;
  // The logger's wider net too (gateway tokens, SAS signatures, account keys, bearer tokens).
  const text = redactCredentials(detected.text);
  const others = text === detected.text ? '' : ' Other credential-like values were masked too.';
  if (text.includes('\\') && escapedSecretIn(text)) {
    return {
      text: WITHHELD_TEXT,
      note: ' The message held a raw secret value in JSON-escaped form, so its text is not kept.',
    };
  }
  return {
    text,
    note:
      (masked === 0
        ? ''
        : ` ${masked} raw secret value(s) masked in the stored text as ${REDACTED}; the original is not kept.`) +
      others,
  };
}

const WITHHELD_TEXT = '[withheld: the message held a raw secret value]';

/** True when the text is JSON whose decoded strings (or keys) still hold a raw secret. */
function escapedSecretIn(text: string): boolean {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return false; // not JSON: nothing decodes the escapes, and the literal text was masked
  }
  return inspectJson(value, { rawSecrets: true, maxDepth: Number.MAX_SAFE_INTEGER }).some(
    (finding) => finding.kind === 'raw-secret',
  );
}

/** At most 50 issues, each with raw secrets masked and at most 500 characters per field. */
function boundedIssues(issues: RequestIssue[]): RequestIssue[] {
  const cut = (text: string) => {
    const masked = redacted(text);
    return masked.length > MAX_ISSUE_CHARS ? `${masked.slice(0, MAX_ISSUE_CHARS - 1)}…` : masked;
  };
  return issues.slice(0, MAX_ISSUES).map((issue) => ({ path: cut(issue.path), message: cut(issue.message) }));
}
