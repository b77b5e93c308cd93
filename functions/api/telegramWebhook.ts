import { createHash, timingSafeEqual } from 'node:crypto';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { z } from 'zod';
import { ErrorCodes } from '../../shared/errors.js';
import { Functions } from '../../shared/functionNames.js';
import { createLogger, type Logger } from '../../shared/logger.js';
import { RefusalCoalescer } from '../../shared/approvals/refusalCoalescer.js';
import type { AuditTrail, NewAuditEntry } from '../../shared/storage/auditTrail.js';
import { telegramUpdateSchema } from '../../shared/telegram/updates.js';
import { inspectJson } from '../../shared/requests/jsonInspection.js';
import { redacted } from '../../shared/requests/rawSecrets.js';
import { webhookUrlProblem } from '../../shared/telegram/webhookUrl.js';
import { readBody } from './body.js';
import { json, problem, problemFromError } from './problem.js';
import { approvalServices, chatService } from '../approvalServices.js';

/** Larger than any update the broker handles (a 4096-character message and its metadata). */
export const TELEGRAM_MAX_UPDATE_BYTES = 64 * 1024;

/**
 * Calls without the right secret token are anyone on the internet: within this window only the
 * first of each kind is audited in full, the rest counted into one entry when the window ends.
 */
export const UNAUTHENTICATED_AUDIT_WINDOW_MS = 60_000;

let unauthenticated: RefusalCoalescer | undefined;
function unauthenticatedRefusals(audit: AuditTrail): RefusalCoalescer {
  return (unauthenticated ??= new RefusalCoalescer(
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
  ));
}

/** The update kinds the broker asks Telegram for. */
export const TELEGRAM_ALLOWED_UPDATES = ['message', 'callback_query'];

/**
 * POST /api/telegram/webhook: Telegram's calls. Anonymous at the Functions level (Telegram cannot
 * send a function key); its authentication is the secret token Telegram sends in
 * `X-Telegram-Bot-Api-Secret-Token`, compared in constant time with the secret held in the
 * broker's Key Vault. Then: size, shape, not seen before (update_id), and the chat service.
 *
 * Answers: 401 without the right token, 400 for an oversized or malformed update, 200 once
 * handled (refusals included: they are audited, and Telegram must not redeliver them), 500 when
 * the broker failed, so Telegram redelivers. Every refusal is audited; calls without the right
 * token (anyone on the internet) are coalesced per minute, so a flood of them is not a flood of
 * writes (the first in full, the rest as one count).
 */
export async function telegramWebhook(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const log = createLogger(context);
  const s = approvalServices();
  const audit = (entry: Omit<NewAuditEntry, 'channel' | 'actor' | 'action'> & Partial<NewAuditEntry>) =>
    s.audit.add({ channel: 'telegram', actor: 'unknown', action: 'webhook', ...entry });
  try {
    const expected = await s.secrets.get(s.config.telegram.webhookSecretRef);
    const presented = request.headers.get('x-telegram-bot-api-secret-token');
    if (!presented || !sameSecret(presented, expected)) {
      const reason = presented ? 'wrong secret token' : 'missing secret token';
      if (await unauthenticatedRefusals(s.audit).first(reason)) {
        await audit({ outcome: 'refused', reason });
        log.warn('telegram webhook refused', { reason });
      }
      return problem(ErrorCodes.BadRequest, 'not a Telegram update for this bot', {}, 401);
    }

    const declared = Number(request.headers.get('content-length') ?? '0');
    if (declared > TELEGRAM_MAX_UPDATE_BYTES)
      return await refuseBody(audit, `oversized update (${declared} bytes declared)`);
    const text = await request.text();
    const size = Buffer.byteLength(text);
    if (size > TELEGRAM_MAX_UPDATE_BYTES) return await refuseBody(audit, `oversized update (${size} bytes)`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return await refuseBody(audit, 'malformed update: not JSON');
    }
    // Bounded before the schema walks it; a `__proto__` field is refused as the request API refuses it.
    const structural = inspectJson(body)[0];
    if (structural)
      return await refuseBody(audit, `malformed update: ${structural.path}: ${structural.message}`);
    const parsed = telegramUpdateSchema.safeParse(body);
    if (!parsed.success) return await refuseBody(audit, `malformed update: ${firstIssue(parsed.error)}`);
    const update = parsed.data;

    if (!(await s.seenUpdates.claim(update.update_id))) {
      await audit({
        outcome: 'ignored',
        updateId: update.update_id,
        reason: `update ${update.update_id} was already handled (replayed or redelivered)`,
        ...claimedActor(update),
      });
      return json(200, {});
    }
    try {
      await chatService(log, df.getClient(context)).handle(update);
    } catch (error) {
      await s.seenUpdates.release(update.update_id);
      throw error;
    }
    return json(200, {});
  } catch (error) {
    log.error('telegram webhook failed', { error: error instanceof Error ? error.message : String(error) });
    return problemFromError(error);
  }
}

async function refuseBody(
  audit: (entry: Omit<NewAuditEntry, 'channel' | 'actor' | 'action'>) => Promise<unknown>,
  reason: string,
): Promise<HttpResponseInit> {
  // Paths and zod messages can echo the update's keys: no raw secret goes into the audit trail.
  const safe = redacted(reason);
  await audit({ outcome: 'refused', reason: safe });
  return problem(ErrorCodes.BadRequest, safe);
}

/** Compares secrets in constant time (digests have equal lengths whatever was presented). */
function sameSecret(presented: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid';
}

/** Who the (authenticated but replayed) update says it is from, for the audit entry. */
function claimedActor(update: z.infer<typeof telegramUpdateSchema>): Partial<NewAuditEntry> {
  const from = update.callback_query?.from ?? update.message?.from;
  return from
    ? { actor: `telegram:${from.id}`, ...(from.first_name ? { actorName: from.first_name } : {}) }
    : {};
}

/**
 * POST /api/telegram/setup (function key): points the bot's webhook at this broker with the secret
 * token from Key Vault, as an operator does once after deploying (or after rotating the secret).
 * Body `{ "url"?: "<public webhook URL>" }`, default this app's own `/api/telegram/webhook`; a
 * given URL must be https on this app's host or a TELEGRAM_WEBHOOK_HOSTS host (webhookUrlProblem).
 */
const setupBodySchema = z.object({ url: z.url().optional() }).strict().optional();

export async function registerTelegramWebhook(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const log: Logger = createLogger(context);
  try {
    const s = approvalServices();
    let url = new URL('/api/telegram/webhook', request.url).href;
    const body = await readBody(request, { schema: setupBodySchema, blankIsAbsent: true });
    if (!body.ok) return problem(ErrorCodes.BadRequest, 'body must be { "url"?: "<https URL>" }');
    if (body.value?.url) {
      const refusal = webhookUrlProblem(body.value.url, request.url, s.config.telegram.webhookHosts);
      if (refusal) {
        log.warn('telegram webhook registration refused', { reason: refusal });
        return problem(ErrorCodes.BadRequest, refusal);
      }
      url = body.value.url;
    }
    const secretToken = await s.secrets.get(s.config.telegram.webhookSecretRef);
    await s.telegram.setWebhook({ url, secretToken, allowedUpdates: TELEGRAM_ALLOWED_UPDATES });
    log.info('telegram webhook registered', { url });
    return json(200, { url, allowedUpdates: TELEGRAM_ALLOWED_UPDATES });
  } catch (error) {
    log.error('telegram webhook registration failed', {
      error: error instanceof Error ? error.message : String(error),
    });
    return problemFromError(error);
  }
}

app.http(Functions.telegramWebhook, {
  route: 'telegram/webhook',
  methods: ['POST'],
  authLevel: 'anonymous',
  extraInputs: [df.input.durableClient()],
  handler: telegramWebhook,
});

app.http(Functions.registerTelegramWebhook, {
  route: 'telegram/setup',
  methods: ['POST'],
  authLevel: 'function',
  handler: registerTelegramWebhook,
});
