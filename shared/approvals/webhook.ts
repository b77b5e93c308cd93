import { createHash, timingSafeEqual } from 'node:crypto';
import type { BrokerConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { parseJsonBody, type BodyFailure } from '../requests/jsonBody.js';
import { redacted } from '../requests/rawSecrets.js';
import type { AuditTrail, NewAuditEntry } from '../storage/auditTrail.js';
import type { SeenUpdateStore } from '../storage/seenUpdateStore.js';
import type { SecretCache } from '../telegram/secretCache.js';
import { telegramUpdateSchema, type TelegramUpdate } from '../telegram/updates.js';
import type { ChatService } from './chatService.js';
import type { RefusalCoalescer } from './refusalCoalescer.js';

/** Larger than any update the broker handles (a 4096-character message and its metadata). */
export const TELEGRAM_MAX_UPDATE_BYTES = 64 * 1024;

/**
 * Calls without the right secret token are anyone on the internet: within this window only the
 * first of each kind is audited in full, the rest counted into one entry when the window ends.
 */
export const UNAUTHENTICATED_AUDIT_WINDOW_MS = 60_000;

/** The update kinds the broker asks Telegram for. */
export const TELEGRAM_ALLOWED_UPDATES = ['message', 'callback_query'];

/** One call to the webhook, as it arrived: nothing in it is trusted until checked here. */
export interface WebhookCall {
  /** `X-Telegram-Bot-Api-Secret-Token`, or null without it. */
  secretToken: string | null;
  /** `Content-Length` as sent, or null without it. */
  contentLength: string | null;
  /** Reads the body; only once the secret token matched. */
  body(): Promise<string>;
}

export type WebhookOutcome =
  /** No or the wrong secret token: not Telegram calling for this bot. */
  | { kind: 'unauthenticated' }
  /** An oversized or malformed update; `reason` is audited and safe to answer (redacted). */
  | { kind: 'refused'; reason: string }
  /** Handled by the chat service (its refusals included: they are audited there). */
  | { kind: 'handled' }
  /** The update was handled before (a replay or a redelivery), so it is ignored. */
  | { kind: 'replayed' };

export interface WebhookDependencies {
  config: Pick<BrokerConfig, 'telegram'>;
  /** The broker's Telegram secrets; the webhook secret is compared with what the call presents. */
  secrets: Pick<SecretCache, 'get'>;
  audit: AuditTrail;
  seenUpdates: SeenUpdateStore;
  /** Calls without the right secret token, coalesced per kind and window (process-wide). */
  unauthenticated: RefusalCoalescer;
  /** The chat service that handles an authenticated, new update (built only then). */
  chat(): Pick<ChatService, 'handle'>;
  log: Logger;
}

/**
 * Telegram's calls to the webhook. Its authentication is the secret token Telegram sends, compared
 * in constant time with the secret held in the broker's Key Vault. Then: size, shape, not seen
 * before (update_id), and the chat service.
 *
 * Every refusal is audited; calls without the right token (anyone on the internet) are coalesced
 * per minute, so a flood of them is not a flood of writes (the first in full, the rest as one
 * count). Failures of the broker itself throw (after releasing the update, so Telegram's
 * redelivery is handled).
 */
export class TelegramWebhook {
  constructor(private readonly deps: WebhookDependencies) {}

  async receive(call: WebhookCall): Promise<WebhookOutcome> {
    const { deps } = this;
    const expected = await deps.secrets.get(deps.config.telegram.webhookSecretRef);
    const presented = call.secretToken;
    if (!presented || !sameSecret(presented, expected)) {
      const reason = presented ? 'wrong secret token' : 'missing secret token';
      if (await deps.unauthenticated.first(reason)) {
        await this.audit({ outcome: 'refused', reason });
        deps.log.warn('telegram webhook refused', { reason });
      }
      return { kind: 'unauthenticated' };
    }

    const declared = Number(call.contentLength ?? '0');
    if (declared > TELEGRAM_MAX_UPDATE_BYTES)
      return await this.refuse(`oversized update (${declared} bytes declared)`);
    // Bounded before the schema walks it; a `__proto__` field is refused as the request API refuses it.
    const parsed = parseJsonBody(await call.body(), {
      schema: telegramUpdateSchema,
      maxBytes: TELEGRAM_MAX_UPDATE_BYTES,
    });
    if (!parsed.ok) return await this.refuse(refusalOf(parsed.failure));
    const update = parsed.value;

    if (!(await deps.seenUpdates.claim(update.update_id))) {
      await this.audit({
        outcome: 'ignored',
        updateId: update.update_id,
        reason: `update ${update.update_id} was already handled (replayed or redelivered)`,
        ...claimedActor(update),
      });
      return { kind: 'replayed' };
    }
    try {
      await deps.chat().handle(update);
    } catch (error) {
      await deps.seenUpdates.release(update.update_id);
      throw error;
    }
    return { kind: 'handled' };
  }

  private async refuse(reason: string): Promise<WebhookOutcome> {
    // Paths and zod messages can echo the update's keys: no raw secret goes into the audit trail.
    const safe = redacted(reason);
    await this.audit({ outcome: 'refused', reason: safe });
    return { kind: 'refused', reason: safe };
  }

  private audit(entry: Omit<NewAuditEntry, 'channel' | 'actor' | 'action'> & Partial<NewAuditEntry>) {
    return this.deps.audit.add({ channel: 'telegram', actor: 'unknown', action: 'webhook', ...entry });
  }
}

/** Compares secrets in constant time (digests have equal lengths whatever was presented). */
function sameSecret(presented: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

function refusalOf(failure: BodyFailure): string {
  switch (failure.kind) {
    case 'oversized':
      return `oversized update (${failure.bytes} bytes)`;
    case 'not-json':
      return 'malformed update: not JSON';
    case 'structure':
    case 'schema': {
      const issue = failure.issues[0];
      return `malformed update: ${issue ? `${issue.path}: ${issue.message}` : 'invalid'}`;
    }
  }
}

/** Who the (authenticated but replayed) update says it is from, for the audit entry. */
function claimedActor(update: TelegramUpdate): Partial<NewAuditEntry> {
  const from = update.callback_query?.from ?? update.message?.from;
  return from
    ? { actor: `telegram:${from.id}`, ...(from.first_name ? { actorName: from.first_name } : {}) }
    : {};
}
