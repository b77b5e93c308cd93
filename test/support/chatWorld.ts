import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { expect } from 'vitest';
import type { ManualClock } from '../../sandbox/host/index.js';
import { createTelegramSurface, type OutboxEntry, type TelegramSurface } from '../../sandbox/sim/telegram.js';
import { ProvisionWorld } from '../scenario/provisionWorld.js';
import type { AuditEntryView } from './approvalWorld.js';

export const CHAT = { adminChatId: -1001, ada: 1001, brian: 1002, eve: 2001 } as const;

export interface ChatWorld {
  world: ProvisionWorld;
  telegram: TelegramSurface;
  botToken: string;
  /** Writes in a chat (the admin chat as Ada by default) and returns what the bot sent back. */
  say(text: string, from?: number, chatId?: number): Promise<OutboxEntry[]>;
  audit(query?: string): Promise<AuditEntryView[]>;
  webhookSecret(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The provisioning world (the broker on the local host against the simulated Azure, Graph and
 * OpenClaw gateway) plus a simulated Telegram with the admin chat -1001, approvers Ada (1001) and
 * Brian (1002) and an outsider, Eve (2001). The bot token and webhook secret are stored in the
 * broker's vault and the webhook registered through the broker's setup endpoint.
 */
export async function startChatWorld(
  options: { settings?: Record<string, string>; clock?: ManualClock } = {},
): Promise<ChatWorld> {
  const port = await freePort();
  const botToken = `7000000077:${randomBytes(24).toString('base64url')}`;
  let telegram: TelegramSurface | undefined;
  const world = await ProvisionWorld.start({
    simulator: {
      port,
      surfaces: [
        (context) => {
          telegram = createTelegramSurface({
            clock: context.clock,
            botToken,
            users: [
              { id: CHAT.ada, first_name: 'Ada' },
              { id: CHAT.brian, first_name: 'Brian' },
              { id: CHAT.eve, first_name: 'Eve' },
            ],
            chats: [{ id: CHAT.adminChatId, type: 'group', title: 'claw admins' }],
          });
          return telegram;
        },
      ],
    },
    settings: {
      DURABLE_TASK_HUB: 'clawchat',
      TELEGRAM_API_BASE: `https://127.0.0.1:${port}/telegram`,
      TELEGRAM_ADMIN_CHAT_ID: String(CHAT.adminChatId),
      TELEGRAM_APPROVER_IDS: `${CHAT.ada},${CHAT.brian}`,
      ...options.settings,
    },
    ...(options.clock ? { host: { clock: options.clock } } : {}),
  });
  const surface = telegram!;
  await world.stageSecret('telegram-bot-token', botToken);
  await world.stageSecret('telegram-webhook-secret', randomBytes(32).toString('base64url'));
  const setup = await world.api('POST', '/api/telegram/setup', {});
  if (setup.status !== 200) throw new Error(`webhook setup: ${setup.status} ${JSON.stringify(setup.body)}`);

  return {
    world,
    telegram: surface,
    botToken,
    async say(text, from = CHAT.ada, chatId = CHAT.adminChatId) {
      const before = surface.outbox().length;
      const delivery = await surface.sendUserMessage({ chatId, fromUserId: from, text });
      expect(delivery.status).toBe(200);
      return surface.outbox().slice(before);
    },
    async audit(query = '') {
      return (await world.api('GET', `/api/audit?limit=1000${query}`)).body['entries'] as AuditEntryView[];
    },
    async webhookSecret() {
      return (await world.brokerSecrets.getSecret('telegram-webhook-secret')).value!;
    },
    stop: () => world.stop(),
  };
}

export function freePort(): Promise<number> {
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
