import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { z } from 'zod';
import { TELEGRAM_ALLOWED_UPDATES } from '../../shared/approvals/webhook.js';
import { ErrorCodes } from '../../shared/errors.js';
import { Functions } from '../../shared/functionNames.js';
import { createLogger } from '../../shared/logger.js';
import { webhookUrlProblem } from '../../shared/telegram/webhookUrl.js';
import { telegramWebhookService } from '../approvalServices.js';
import { services } from '../services.js';
import { readBody } from './body.js';
import { answerProblems, json, problem, withProblems } from './problem.js';

/**
 * POST /api/telegram/webhook: Telegram's calls. Anonymous at the Functions level (Telegram cannot
 * send a function key); its authentication is the secret token Telegram sends in
 * `X-Telegram-Bot-Api-Secret-Token`, checked with the size, shape and freshness of the update by
 * the TelegramWebhook (shared/approvals/webhook.ts), which audits every refusal.
 *
 * Answers: 401 without the right token, 400 for an oversized or malformed update, 200 once
 * handled (refusals included: they are audited, and Telegram must not redeliver them), 500 when
 * the broker failed, so Telegram redelivers.
 */
export async function telegramWebhook(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  // Built outside the problem wrapper, as always: a broker that cannot start (invalid settings)
  // fails the call without telling an anonymous caller why.
  const webhook = telegramWebhookService(createLogger(context), () => df.getClient(context));
  return answerProblems(context, 'telegram webhook failed', async () => {
    const outcome = await webhook.receive({
      secretToken: request.headers.get('x-telegram-bot-api-secret-token'),
      contentLength: request.headers.get('content-length'),
      body: () => request.text(),
    });
    switch (outcome.kind) {
      case 'unauthenticated':
        return problem(ErrorCodes.BadRequest, 'not a Telegram update for this bot', {}, 401);
      case 'refused':
        return problem(ErrorCodes.BadRequest, outcome.reason);
      case 'handled':
      case 'replayed':
        return json(200, {});
    }
  });
}

const setupBodySchema = z.object({ url: z.url().optional() }).strict().optional();

/**
 * POST /api/telegram/setup (function key): points the bot's webhook at this broker with the secret
 * token from Key Vault, as an operator does once after deploying (or after rotating the secret).
 * Body `{ "url"?: "<public webhook URL>" }`, default this app's own `/api/telegram/webhook`; a
 * given URL must be https on this app's host or a TELEGRAM_WEBHOOK_HOSTS host (webhookUrlProblem).
 */
export const registerTelegramWebhook = withProblems(
  'telegram webhook registration failed',
  async (request, context) => {
    const log = createLogger(context);
    const s = services();
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
  },
);

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
