import { createServer } from 'node:net';
import { TableServiceClient, TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { ManualClock } from '../../sandbox/host/index.js';
import { SANDBOX_TELEGRAM, startSandboxWorld, type SandboxWorld } from '../../sandbox/world.js';
import type { OutboxEntry, TelegramUpdate, WebhookDelivery } from '../../sandbox/sim/telegram.js';

export const ADMIN_CHAT = SANDBOX_TELEGRAM.adminChatId;
export const ADA = SANDBOX_TELEGRAM.approvers[0].id;
export const BRIAN = SANDBOX_TELEGRAM.approvers[1].id;
export const EVE = SANDBOX_TELEGRAM.outsider.id;

/** Teardown: one approver, not the requester. Upgrade: two different approvers, the requester may be one. */
export const APPROVAL_POLICY = JSON.stringify({
  teardown: { approvers: 1, requesterMayApprove: false },
  upgrade: { approvers: 2, requesterMayApprove: true },
});

export interface RequestView {
  requestId: string;
  status: string;
  step?: string;
  reason?: string;
  summary?: string;
}

/**
 * The sandbox world (Azurite, the full simulator with its Telegram stand-in, the local host) running
 * the broker plus the approval-gated test operation (approvalTestApp.ts), on free ports, with a
 * ManualClock on the host so deadlines pass when a test says so. The bot's webhook is registered
 * through the broker's own setup endpoint, as an operator does after deploying.
 */
export class ApprovalWorld {
  private constructor(
    readonly world: SandboxWorld,
    readonly clock: ManualClock,
  ) {}

  static async start(settings: Record<string, string> = {}): Promise<ApprovalWorld> {
    const clock = new ManualClock(Date.now());
    const simPort = await freePort();
    const world = await startSandboxWorld({
      app: () => import('./approvalTestApp.js'),
      hostPort: 0,
      simPort,
      clock,
      settings: {
        DURABLE_TASK_HUB: 'clawapprovals',
        APPROVAL_POLICY,
        OPENCLAW_GATEWAY_URL_TEMPLATE: `https://127.0.0.1:${simPort}/openclaw/{app}`,
        ...settings,
      },
    });
    const approvals = new ApprovalWorld(world, clock);
    const setup = await approvals.api('POST', '/api/telegram/setup', {});
    if (setup.status !== 200)
      throw new Error(`webhook setup answered ${setup.status}: ${JSON.stringify(setup.body)}`);
    return approvals;
  }

  get telegram() {
    return this.world.telegram;
  }

  get host() {
    return this.world.host;
  }

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

  /** Submits a request through the HTTP API as `principal` (Entra built-in auth's header). */
  async submit(op: string, slug: string, requestId: string, principal = 'alice@example.com'): Promise<void> {
    const answer = await this.api(
      'POST',
      '/api/requests',
      { op, slug, requestId },
      { 'x-ms-client-principal-name': principal },
    );
    if (answer.status !== 202)
      throw new Error(`submitting ${requestId}: ${answer.status} ${JSON.stringify(answer.body)}`);
  }

  async request(requestId: string): Promise<RequestView> {
    return (await this.api('GET', `/api/requests/${requestId}`)).body as unknown as RequestView;
  }

  /** Polls until the request is in one of `statuses`; the bound is a safety net, not an assertion. */
  async until(requestId: string, statuses: string[]): Promise<RequestView> {
    return poll(
      () => this.request(requestId),
      (view) => statuses.includes(view.status),
      () => `request ${requestId} never became ${statuses.join('|')}`,
    );
  }

  /** Waits for the request to await approval and for its message to reach the admin chat. */
  async awaitingApproval(requestId: string): Promise<OutboxEntry> {
    await this.until(requestId, ['awaiting-approval']);
    return poll(
      async () => this.approvalMessage(requestId),
      (message) => message !== undefined,
      () => `no approval message for ${requestId}`,
    ) as Promise<OutboxEntry>;
  }

  /** The approval message of a request as it stands now (its last send or edit). */
  approvalMessage(requestId: string): OutboxEntry | undefined {
    return this.telegram
      .outbox(ADMIN_CHAT)
      .filter((entry) => entry.text.includes(`(request ${requestId})`))
      .at(-1);
  }

  /** Presses the named button of the request's approval message as `userId`. */
  async press(requestId: string, button: 'Approve' | 'Reject', userId: number): Promise<WebhookDelivery> {
    const message = this.approvalMessage(requestId);
    const data = message?.replyMarkup?.inline_keyboard.flat().find((b) => b.text === button)?.callback_data;
    if (!message || !data) throw new Error(`the approval message of ${requestId} has no ${button} button`);
    return this.telegram.pressButton({
      chatId: message.chatId,
      messageId: message.messageId,
      fromUserId: userId,
      callbackData: data,
    });
  }

  /** The callback data behind a request's current button (to replay it later). */
  buttonData(requestId: string, button: 'Approve' | 'Reject'): string {
    const data = this.approvalMessage(requestId)
      ?.replyMarkup?.inline_keyboard.flat()
      .find((b) => b.text === button)?.callback_data;
    if (!data) throw new Error(`no ${button} button on the approval message of ${requestId}`);
    return data;
  }

  /** The webhook secret Telegram would send, read from the simulated broker vault (tests only). */
  webhookSecret(): string {
    return this.secretValue('telegram-webhook-secret');
  }

  botToken(): string {
    return this.secretValue('telegram-bot-token');
  }

  private secretValue(name: string): string {
    for (const [, vault] of this.world.sim.keyVault.exportState()) {
      for (const [secretName, secret] of vault.secrets) {
        if (secretName === name) {
          const value = secret.versions.at(-1)?.value;
          if (value) return value;
        }
      }
    }
    throw new Error(`the broker vault holds no ${name}`);
  }

  /**
   * Sends a callback query update as Telegram would, with a fresh update id, pressing `data` in
   * `chatId` (by default the admin chat) as `userId`. With `secretToken` undefined the right
   * secret is sent; pass a string to send another, or null to send none.
   */
  forgePress(
    options: { data: string; userId: number; chatId?: number; messageId?: number },
    secretToken: string | null | undefined = undefined,
  ): Promise<WebhookDelivery> {
    const user = [...SANDBOX_TELEGRAM.approvers, SANDBOX_TELEGRAM.outsider].find(
      (u) => u.id === options.userId,
    );
    const chatId = options.chatId ?? ADMIN_CHAT;
    const update: TelegramUpdate = {
      update_id: nextForgedUpdateId++,
      callback_query: {
        id: `forged-${nextForgedUpdateId}`,
        from: { id: options.userId, is_bot: false, first_name: user?.first_name ?? 'Someone' },
        chat_instance: '1',
        data: options.data,
        message: {
          message_id: options.messageId ?? 1,
          date: Math.floor(Date.now() / 1000),
          chat:
            chatId === ADMIN_CHAT
              ? { id: chatId, type: 'group', title: 'claw admins' }
              : { id: chatId, type: 'private' },
          text: 'forged',
        },
      },
    };
    return this.telegram.deliverForged(
      update,
      secretToken === null ? {} : { secretToken: secretToken ?? this.webhookSecret() },
    );
  }

  /** POSTs a raw body to the webhook with the right secret token. */
  async postRawUpdate(body: string): Promise<{ status: number; text: string }> {
    const response = await fetch(`${this.host.baseUrl}/api/telegram/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-telegram-bot-api-secret-token': this.webhookSecret(),
      },
      body,
    });
    return { status: response.status, text: await response.text() };
  }

  async audit(query = ''): Promise<AuditEntryView[]> {
    const answer = await this.api('GET', `/api/audit?limit=1000${query}`);
    return answer.body['entries'] as AuditEntryView[];
  }

  /**
   * Every place the broker could have leaked a secret to: all of its storage in Azurite (task hub
   * blobs with orchestration histories, inputs, outputs and custom status; every table, the audit
   * trail included; queues), the host's logs and the simulator's request log.
   */
  async observableText(): Promise<{ where: string; text: string }[]> {
    const places: { where: string; text: string }[] = [];
    const connection = this.world.azurite.connectionString;
    const blobs = BlobServiceClient.fromConnectionString(connection);
    for await (const container of blobs.listContainers()) {
      const client = blobs.getContainerClient(container.name);
      for await (const blob of client.listBlobsFlat()) {
        // The host may consume a message blob between the listing and the download.
        const buffer = await client
          .getBlobClient(blob.name)
          .downloadToBuffer()
          .catch((error: { statusCode?: number }) => {
            if (error.statusCode === 404) return undefined;
            throw error;
          });
        if (buffer)
          places.push({ where: `blob ${container.name}/${blob.name}`, text: buffer.toString('utf8') });
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
    places.push({ where: 'simulator request log', text: JSON.stringify(this.world.sim.admin.requests()) });
    return places;
  }

  /** An instance's history, timeline and status as text. */
  instanceText(instanceId: string): { where: string; text: string } {
    return {
      where: `instance ${instanceId}`,
      text: JSON.stringify({
        history: this.host.history(instanceId),
        timeline: this.host.timeline(instanceId),
        status: this.host.getStatus(instanceId),
      }),
    };
  }

  stop(): Promise<void> {
    return this.world.stop();
  }
}

export interface AuditEntryView {
  at: string;
  channel: string;
  actor: string;
  actorName?: string;
  action: string;
  outcome: string;
  requestId?: string;
  slug?: string;
  pairingRequestId?: string;
  reason?: string;
  updateId?: number;
}

let nextForgedUpdateId = 900_000_001;

/** Polls `read` until `done`; the bound (20 s) is a safety net, not an assertion. */
export async function poll<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  what: () => string,
): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what()}; last seen ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
