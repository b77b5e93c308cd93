import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { ManualClock } from '../../sandbox/host/index.js';
import type { OutboxEntry, TelegramSurface } from '../../sandbox/sim/telegram.js';
import { SANDBOX_TELEGRAM } from '../../sandbox/world.js';
import { ProvisionWorld, type ProvisionWorldOptions } from '../scenario/provisionWorld.js';
import type { AuditEntryView } from './testWorld.js';

export const CHAT = {
  adminChatId: SANDBOX_TELEGRAM.adminChatId,
  ada: SANDBOX_TELEGRAM.approvers[0].id,
  brian: SANDBOX_TELEGRAM.approvers[1].id,
  eve: SANDBOX_TELEGRAM.outsider.id,
} as const;

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
 * OpenClaw gateway) plus the sandbox's simulated Telegram: the admin chat -1001, approvers Ada
 * (1001) and Brian (1002) and an outsider, Eve (2001). The bot token and webhook secret are stored
 * in the broker's vault and the webhook registered through the broker's setup endpoint.
 */
export async function startChatWorld(
  options: Pick<ProvisionWorldOptions, 'settings' | 'realOpenClaw'> & { clock?: ManualClock } = {},
): Promise<ChatWorld> {
  const botToken = `7000000077:${randomBytes(24).toString('base64url')}`;
  const world = await ProvisionWorld.start({
    telegram: { botToken },
    settings: { DURABLE_TASK_HUB: 'clawchat', ...options.settings },
    ...(options.clock ? { host: { clock: options.clock } } : {}),
    ...(options.realOpenClaw ? { realOpenClaw: options.realOpenClaw } : {}),
  });
  const surface = world.telegram;

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
    audit: (query) => world.audit(query),
    async webhookSecret() {
      return (await world.brokerSecrets.getSecret('telegram-webhook-secret')).value!;
    },
    stop: () => world.stop(),
  };
}
