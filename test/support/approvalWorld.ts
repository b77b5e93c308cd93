import { ManualClock } from '../../sandbox/host/index.js';
import { SANDBOX_TELEGRAM, startSandboxWorld } from '../../sandbox/world.js';
import type { OutboxEntry, TelegramUpdate, WebhookDelivery } from '../../sandbox/sim/telegram.js';
import { TestWorld, type RequestView } from './testWorld.js';

export type { AuditEntryView, RequestView } from './testWorld.js';

export const ADMIN_CHAT = SANDBOX_TELEGRAM.adminChatId;
export const ADA = SANDBOX_TELEGRAM.approvers[0].id;
export const BRIAN = SANDBOX_TELEGRAM.approvers[1].id;
export const EVE = SANDBOX_TELEGRAM.outsider.id;

/** Operators signed in through the (emulated) Easy Auth in front of the API, by their names. */
export const OPERATORS = {
  'alice@example.com': { objectId: 'a11ce000-0000-4000-8000-000000000001', name: 'alice@example.com' },
  'bob@example.com': { objectId: 'b0b00000-0000-4000-8000-000000000002', name: 'bob@example.com' },
  /** Signed in and allowed to read, submit and watch, but no approver. */
  'carol@example.com': { objectId: 'ca201000-0000-4000-8000-000000000003', name: 'carol@example.com' },
  /** An approver through the group OPERATOR_APPROVER_GROUP_IDS names. */
  'dave@example.com': {
    objectId: 'da7e0000-0000-4000-8000-000000000004',
    name: 'dave@example.com',
    groups: ['a9900000-0000-4000-8000-0000000000a9'],
  },
} as const;
export type OperatorName = keyof typeof OPERATORS;

/** The bearer token that signs `name` in through the emulated Easy Auth. */
export function tokenOf(name: OperatorName): string {
  return `token-of-${name}`;
}

/** The headers of a call `name` makes through Easy Auth (the platform turns the token into them). */
export function signedInAs(name: OperatorName): Record<string, string> {
  return { authorization: `Bearer ${tokenOf(name)}` };
}

/** Teardown: one approver, not the requester. Upgrade: two different approvers, the requester may be one. */
export const APPROVAL_POLICY = JSON.stringify({
  teardown: { approvers: 1, requesterMayApprove: false },
  upgrade: { approvers: 2, requesterMayApprove: true },
});

/**
 * The sandbox world (Azurite, the full simulator with its Telegram stand-in, the local host) running
 * the broker plus the approval-gated test operation (approvalTestApp.ts), on free ports, with a
 * ManualClock on the host so deadlines pass when a test says so. The bot's webhook is registered
 * through the broker's own setup endpoint, as an operator does after deploying.
 *
 * The API is behind emulated App Service authentication (OPERATOR_AUTH=easyauth, as deployed):
 * calls sign in with a bearer token (`signedInAs`), the webhook route is excluded, and alice and
 * bob (by object id) and dave (by group) are the operators allowed to approve. Calls that name no
 * one sign in as carol, who may not. With `easyAuth: false` it runs as the sandbox does: function
 * key only, whose operator is `sandbox-operator`.
 */
export class ApprovalWorld extends TestWorld {
  static start(
    settings: Record<string, string> = {},
    options: { easyAuth?: boolean } = {},
  ): Promise<ApprovalWorld> {
    const easyAuth = options.easyAuth ?? true;
    const clock = new ManualClock(Date.now());
    // Carol first: the world's own setup call signs in as the first principal.
    const names: OperatorName[] = [
      'carol@example.com',
      'alice@example.com',
      'bob@example.com',
      'dave@example.com',
    ];
    const principals = Object.fromEntries(names.map((name) => [tokenOf(name), OPERATORS[name]]));
    return startSandboxWorld(
      {
        app: () => import('./approvalTestApp.js'),
        hostPort: 0,
        host: easyAuth
          ? { clock, easyAuth: { principals, excludedPaths: ['/api/telegram/webhook'] } }
          : { clock },
        settings: {
          DURABLE_TASK_HUB: 'clawapprovals',
          APPROVAL_POLICY,
          ...(easyAuth
            ? {
                OPERATOR_AUTH: 'easyauth',
                OPERATOR_APPROVER_IDS: [OPERATORS['alice@example.com'], OPERATORS['bob@example.com']]
                  .map((operator) => operator.objectId)
                  .join(','),
                OPERATOR_APPROVER_GROUP_IDS: OPERATORS['dave@example.com'].groups.join(','),
              }
            : {}),
          ...settings,
        },
      },
      ApprovalWorld,
    );
  }

  /** Calls the API signed in as carol unless the headers sign in as someone else. */
  override api(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const signIn = this.settings['OPERATOR_AUTH'] === 'easyauth';
    return super.api(method, path, body, { ...(signIn ? signedInAs('carol@example.com') : {}), ...headers });
  }

  get clock(): ManualClock {
    return this.host.clock as ManualClock;
  }

  /** Submits a request through the HTTP API signed in as `principal`. */
  async submit(
    op: string,
    slug: string,
    requestId: string,
    principal: OperatorName = 'alice@example.com',
  ): Promise<void> {
    const signIn = this.settings['OPERATOR_AUTH'] === 'easyauth' ? signedInAs(principal) : {};
    const answer = await this.api('POST', '/api/requests', { op, slug, requestId }, signIn);
    if (answer.status !== 202)
      throw new Error(`submitting ${requestId}: ${answer.status} ${JSON.stringify(answer.body)}`);
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
    for (const [, vault] of this.sim.keyVault.exportState()) {
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
