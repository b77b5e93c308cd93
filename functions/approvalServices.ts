import type { DurableClient } from 'durable-functions';
import { ApprovalService } from '../shared/approvals/approvalService.js';
import { ChatService } from '../shared/approvals/chatService.js';
import { RefusalCoalescer } from '../shared/approvals/refusalCoalescer.js';
import { TelegramWebhook, UNAUTHENTICATED_AUDIT_WINDOW_MS } from '../shared/approvals/webhook.js';
import type { ApprovalDecision } from '../shared/approvals/contracts.js';
import { GatewayDevicePairing, type DevicePairingPort } from '../shared/approvals/devicePairing.js';
import { AzureClients } from '../shared/azure/azureClients.js';
import { Events, Functions } from '../shared/functionNames.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { ApprovalStore } from '../shared/storage/approvalStore.js';
import { AuditTrail } from '../shared/storage/auditTrail.js';
import { NonceStore } from '../shared/storage/nonceStore.js';
import { SeenUpdateStore } from '../shared/storage/seenUpdateStore.js';
import { SecretCache, keyVaultSecretReader } from '../shared/telegram/secretCache.js';
import { TelegramClient } from '../shared/telegram/telegramClient.js';
import { services, type Services } from './services.js';

/** The approval and chat side of the app, built once per process on top of `services()`. */
export interface ApprovalServices extends Services {
  approvals: ApprovalStore;
  nonces: NonceStore;
  seenUpdates: SeenUpdateStore;
  audit: AuditTrail;
  /** The broker's Telegram secrets (bot token, webhook secret), cached for a minute. */
  secrets: SecretCache;
  telegram: TelegramClient;
  pairing: DevicePairingPort;
  /** Refusals of chat members who may not act, coalesced per kind and minute (see ChatServiceDeps). */
  outsiderRefusals: RefusalCoalescer;
  /** Webhook calls without the right secret token, coalesced per kind and minute (see WebhookDependencies). */
  webhookRefusals: RefusalCoalescer;
}

/** Within this window only the first refusal of each kind of outsider is audited in full. */
export const OUTSIDER_AUDIT_WINDOW_MS = 60_000;

let instance: ApprovalServices | undefined;

export function approvalServices(): ApprovalServices {
  if (!instance) {
    const base = services();
    const { config, storage } = base;
    const azure = new AzureClients(config);
    const secrets = new SecretCache(keyVaultSecretReader((vaultUri) => azure.secrets(vaultUri)));
    const audit = new AuditTrail(storage);
    const outsiderRefusals = new RefusalCoalescer(
      async ({ key, count, from, to }) => {
        await audit.add({
          channel: 'telegram',
          actor: 'unknown',
          action: 'chat',
          outcome: 'refused',
          reason: `${key}: ${count} more from ${from.toISOString()} to ${to.toISOString()} (counted, not audited one by one)`,
        });
      },
      {
        windowMs: OUTSIDER_AUDIT_WINDOW_MS,
        // A window closes after the invocation that opened it: log to the process.
        onError: (error) =>
          createLogger(console, { component: 'chat' }).error('auditing coalesced chat refusals failed', {
            error: error instanceof Error ? error.message : String(error),
          }),
      },
    );
    const webhookRefusals = new RefusalCoalescer(
      async ({ key, count, from, to }) => {
        await audit.add({
          channel: 'telegram',
          actor: 'unknown',
          action: 'webhook',
          outcome: 'refused',
          reason: `${key}: ${count} more from ${from.toISOString()} to ${to.toISOString()} (counted, not audited one by one)`,
        });
      },
      {
        windowMs: UNAUTHENTICATED_AUDIT_WINDOW_MS,
        // A window closes after the invocation that opened it has ended: log to the process, not its context.
        onError: (error) =>
          createLogger(console, { function: Functions.telegramWebhook }).error(
            'auditing coalesced webhook refusals failed',
            {
              error: error instanceof Error ? error.message : String(error),
            },
          ),
      },
    );
    instance = {
      ...base,
      approvals: new ApprovalStore(storage),
      nonces: new NonceStore(storage),
      seenUpdates: new SeenUpdateStore(storage),
      audit,
      secrets,
      telegram: new TelegramClient({
        apiBase: config.telegram.apiBase,
        token: () => secrets.get(config.telegram.botTokenRef),
      }),
      pairing: new GatewayDevicePairing({ config, azure }),
      outsiderRefusals,
      webhookRefusals,
    };
  }
  return instance;
}

/** Raises an approval's final decision through the durable client; none for activities, which never decide. */
export function decisionRaiser(client: DurableClient | undefined) {
  return async (instanceId: string, decision: ApprovalDecision): Promise<void> => {
    if (!client) throw new Error('raising a decision needs the durable client');
    await client.raiseEvent(instanceId, Events.approvalDecision, decision);
  };
}

/** The approval service for one invocation (the durable client is per invocation). */
export function approvalService(log: Logger, client?: DurableClient): ApprovalService {
  const s = approvalServices();
  return new ApprovalService({
    config: s.config,
    approvals: s.approvals,
    nonces: s.nonces,
    audit: s.audit,
    telegram: s.telegram,
    requestVia: async (requestId) => ((await s.requests.get(requestId))?.via === 'api' ? 'api' : 'queue'),
    raiseDecision: decisionRaiser(client),
    now: () => new Date(),
    log,
  });
}

/** The chat side for one webhook invocation. */
export function chatService(log: Logger, client: DurableClient): ChatService {
  const s = approvalServices();
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
  const s = approvalServices();
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
