import { TableClient, TableServiceClient } from '@azure/data-tables';
import { BlobServiceClient, type BlobClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import type { RequestLogEntry } from '../../sandbox/sim/requestLog.js';
import { SandboxWorld } from '../../sandbox/world.js';
import type { AuditEntry } from '../../shared/storage/auditTrail.js';
import {
  stagedSecretName,
  stagedSecretUri,
  type StageableSecret,
} from '../../shared/intake/stagedSecrets.js';

export interface RequestView {
  requestId: string;
  status: string;
  step?: string;
  progress?: { done: number; total: number };
  summary?: string;
  reason?: string;
}

/** An audit trail entry as GET /api/audit answers it. */
export type AuditEntryView = Omit<AuditEntry, 'id'>;

/** A place the broker could have leaked a secret to, and its text. */
export interface ObservedText {
  where: string;
  text: string;
}

/**
 * The sandbox world (sandbox/world.ts) with what tests ask of it: the broker's HTTP API, the
 * simulator's request log, and every secret and every place a secret could leak to.
 */
export class TestWorld extends SandboxWorld {
  /** Calls the broker's HTTP API with the function key; JSON in and out. */
  async api(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${this.host.baseUrl}${path}`, {
      method,
      headers: { 'x-functions-key': this.host.functionKey, 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  async request(requestId: string): Promise<RequestView> {
    return (await this.api('GET', `/api/requests/${requestId}`)).body as unknown as RequestView;
  }

  async audit(query = ''): Promise<AuditEntryView[]> {
    return (await this.api('GET', `/api/audit?limit=1000${query}`)).body['entries'] as AuditEntryView[];
  }

  /** The simulator's request log from `afterSeq` on. */
  requests(afterSeq = 0): RequestLogEntry[] {
    return this.sim.admin.requests(afterSeq);
  }

  lastSeq(): number {
    return this.sim.admin.requests().at(-1)?.seq ?? 0;
  }

  /**
   * Stages a secret for request `requestId` in the staging vault under the name the HTTP API uses,
   * as the API does for request secrets; returns its reference (the only one that request may use).
   */
  async stageSecret(
    requestId: string,
    value: string,
    secret: StageableSecret = 'telegramBotToken',
  ): Promise<string> {
    await this.stagingSecrets.setSecret(stagedSecretName(requestId, secret), value);
    return stagedSecretUri(this.stagingVaultUri, requestId, secret);
  }

  /**
   * Every secret value the simulator holds: Key Vault secret versions (live and deleted, every
   * vault), storage account keys, Log Analytics shared keys, the keys registered on Container Apps
   * environments, and the broker's own client secret.
   */
  secretValues(): string[] {
    const values = new Set<string>([this.sim.broker.clientSecret]);
    for (const [, vault] of this.sim.keyVault.exportState()) {
      for (const [, secret] of vault.secrets)
        for (const version of secret.versions) values.add(version.value);
    }
    for (const resource of this.sim.arm.resources.values()) {
      const hidden = resource.hidden;
      for (const key of (hidden['keys'] ?? []) as { value: string }[]) values.add(key.value);
      const shared = hidden['sharedKeys'] as Record<string, string> | undefined;
      if (shared) for (const value of Object.values(shared)) values.add(value);
      if (typeof hidden['accountKey'] === 'string') values.add(hidden['accountKey']);
    }
    return [...values].filter((value) => value.length >= 16);
  }

  /**
   * Every place the broker could have leaked a secret to: all of its storage in Azurite (task hub
   * blobs with orchestration histories, inputs, outputs and custom status; every table, the
   * registry, requests and audit trail included; queues), the host's logs and the simulator's
   * request log. One string per place.
   */
  async observableText(): Promise<ObservedText[]> {
    const places: ObservedText[] = [];
    const connection = this.azurite.connectionString;
    const blobs = BlobServiceClient.fromConnectionString(connection);
    for await (const container of blobs.listContainers()) {
      const client = blobs.getContainerClient(container.name);
      for await (const blob of client.listBlobsFlat()) {
        const text = await readChangingBlob(client.getBlobClient(blob.name));
        if (text !== undefined) places.push({ where: `blob ${container.name}/${blob.name}`, text });
      }
    }
    const tables = TableServiceClient.fromConnectionString(connection, { allowInsecureConnection: true });
    for await (const table of tables.listTables()) {
      const client = TableClient.fromConnectionString(connection, table.name!, {
        allowInsecureConnection: true,
      });
      for await (const entity of client.listEntities()) {
        places.push({ where: `table ${table.name}`, text: JSON.stringify(entity) });
      }
    }
    const queues = QueueServiceClient.fromConnectionString(connection);
    for await (const queue of queues.listQueues()) {
      const peeked = await queues.getQueueClient(queue.name).peekMessages({ numberOfMessages: 32 });
      places.push({ where: `queue ${queue.name}`, text: JSON.stringify(peeked.peekedMessageItems) });
    }
    places.push({ where: 'host logs', text: JSON.stringify(this.host.logs) });
    places.push({ where: 'simulator request log', text: JSON.stringify(this.requests()) });
    return places;
  }

  /** A live instance's history, timeline and status as text (or several instances', by id). */
  instanceText(instanceId: string): ObservedText;
  instanceText(instanceIds: string[]): ObservedText[];
  instanceText(ids: string | string[]): ObservedText | ObservedText[] {
    const text = (id: string): ObservedText => ({
      where: `instance ${id}`,
      text: JSON.stringify({
        history: this.host.history(id),
        timeline: this.host.timeline(id),
        status: this.host.getStatus(id),
      }),
    });
    return typeof ids === 'string' ? text(ids) : ids.map(text);
  }
}

/**
 * A blob's text, read again when the running host rewrote it mid-download; undefined when the host
 * deleted it (a completed work item) between listing and reading.
 */
async function readChangingBlob(blob: BlobClient): Promise<string | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await blob.downloadToBuffer()).toString('utf8');
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      if (attempt >= 5) throw error;
    }
  }
}
