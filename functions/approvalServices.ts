import type { DurableClient } from 'durable-functions';
import { ApprovalService } from '../shared/approvals/approvalService.js';
import { ChatService } from '../shared/approvals/chatService.js';
import type { ApprovalDecision } from '../shared/approvals/contracts.js';
import { Events } from '../shared/functionNames.js';
import type { Logger } from '../shared/logger.js';
import { TelegramWebhook } from '../shared/approvals/webhook.js';
import { services } from './services.js';

/** Raises an approval's final decision through the durable client; none for activities, which never decide. */
export function decisionRaiser(client: DurableClient | undefined) {
  return async (instanceId: string, decision: ApprovalDecision): Promise<void> => {
    if (!client) throw new Error('raising a decision needs the durable client');
    await client.raiseEvent(instanceId, Events.approvalDecision, decision);
  };
}

/** The approval service for one invocation (the durable client is per invocation). */
export function approvalService(log: Logger, client?: DurableClient): ApprovalService {
  const s = services();
  return new ApprovalService({
    config: s.config,
    approvals: s.approvals,
    nonces: s.nonces,
    audit: s.audit,
    telegram: s.telegram,
    requestVia: async (requestId) => {
      const request = await s.requests.get(requestId);
      if (request) return request.via === 'api' ? 'api' : 'queue';
      // A fleet wave's approval (`wave:<waveId>`): operators start waves only through the API.
      const wave = requestId.startsWith('wave:') ? await s.upgradeWaves.get(requestId.slice(5)) : undefined;
      return wave ? 'api' : 'queue';
    },
    raiseDecision: decisionRaiser(client),
    now: () => new Date(),
    log,
  });
}

/** The chat side for one webhook invocation. */
export function chatService(log: Logger, client: DurableClient): ChatService {
  const s = services();
  return new ChatService({
    config: s.config,
    nonces: s.nonces,
    audit: s.audit,
    telegram: s.telegram,
    registry: s.registry,
    approvals: approvalService(log, client),
    pairing: s.pairing,
    outsiders: s.outsiderRefusals,
    now: () => new Date(),
    log,
  });
}

/** The webhook's checks for one invocation; the chat service is built only for an update to handle. */
export function telegramWebhookService(log: Logger, client: () => DurableClient): TelegramWebhook {
  const s = services();
  return new TelegramWebhook({
    config: s.config,
    secrets: s.secrets,
    audit: s.audit,
    seenUpdates: s.seenUpdates,
    unauthenticated: s.webhookRefusals,
    chat: () => chatService(log, client()),
    log,
  });
}
