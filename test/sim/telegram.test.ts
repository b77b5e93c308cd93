import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createTelegramSurface,
  type TelegramSurface,
  type TelegramSurfaceOptions,
  type TelegramUpdate,
} from '../../sandbox/sim/telegram.js';
import { startSurfaceServer, type SurfaceServer } from './surfaceServer.js';

const BOT_TOKEN = '7012345678:AAHk3vQmZ1x9Lr2Yb8TnPq4WcD6sFgJhKe0';
const WEBHOOK_SECRET = 'approvals_webhook-Secret_42';
const ADMIN = { id: 111, first_name: 'Ada', username: 'ada' };
const STRANGER = { id: 222, first_name: 'Mallory' };
const ADMIN_GROUP = {
  id: -1001234567890,
  type: 'supergroup' as const,
  title: 'shire admins',
  username: 'shire_admins',
};

interface ApiAnswer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- assertions read the wire result loosely
  body: { ok: boolean; result?: any; error_code?: number; description?: string };
}

/** A bot's webhook: checks Telegram's secret header exactly as a real bot endpoint must. */
interface FakeWebhook {
  url: string;
  received: Array<{ secret: string | undefined; update: TelegramUpdate }>;
  close(): Promise<void>;
}

async function listen(server: Server, protocol: 'http' | 'https'): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `${protocol}://127.0.0.1:${(server.address() as AddressInfo).port}/telegram/webhook`;
}

function webhookHandler(received: FakeWebhook['received']) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const header = req.headers['x-telegram-bot-api-secret-token'];
      const secret = Array.isArray(header) ? header[0] : header;
      received.push({ secret, update: JSON.parse(Buffer.concat(chunks).toString('utf8')) as TelegramUpdate });
      res.writeHead(secret === WEBHOOK_SECRET ? 200 : 401).end();
    });
  };
}

async function startWebhook(tls?: { key: string; cert: string }): Promise<FakeWebhook> {
  const received: FakeWebhook['received'] = [];
  const server = tls
    ? createHttpsServer({ key: tls.key, cert: tls.cert }, webhookHandler(received))
    : createHttpServer(webhookHandler(received));
  const url = await listen(server, tls ? 'https' : 'http');
  return {
    url,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('the simulated Telegram Bot API', () => {
  let now: number;
  let telegram: TelegramSurface;
  let server: SurfaceServer;
  let webhook: FakeWebhook;

  async function start(extra: Partial<TelegramSurfaceOptions> = {}): Promise<void> {
    telegram = createTelegramSurface({
      clock: { now: () => now },
      botToken: BOT_TOKEN,
      botUsername: 'shire_broker_bot',
      users: [ADMIN, STRANGER],
      chats: [ADMIN_GROUP],
      ...extra,
    });
    server = await startSurfaceServer(telegram);
  }

  async function call(
    method: string,
    params: Record<string, unknown>,
    token = BOT_TOKEN,
  ): Promise<ApiAnswer> {
    const response = await fetch(`${server.url}/telegram/bot${token}/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(params),
    });
    return { status: response.status, body: (await response.json()) as ApiAnswer['body'] };
  }

  async function callForm(method: string, params: Record<string, string>): Promise<ApiAnswer> {
    const response = await fetch(`${server.url}/telegram/bot${BOT_TOKEN}/${method}`, {
      method: 'POST',
      body: new URLSearchParams(params),
    });
    return { status: response.status, body: (await response.json()) as ApiAnswer['body'] };
  }

  async function sendApproval(chatId = ADMIN_GROUP.id): Promise<number> {
    const sent = await call('sendMessage', {
      chat_id: chatId,
      text: 'Upgrade contoso to 2026.9.6?',
      reply_markup: {
        inline_keyboard: [
          [
            { text: 'Approve', callback_data: 'a:nonce-1' },
            { text: 'Reject', callback_data: 'r:nonce-1' },
          ],
        ],
      },
    });
    expect(sent.body.ok).toBe(true);
    return sent.body.result.message_id as number;
  }

  beforeEach(async () => {
    now = Date.UTC(2026, 10, 3, 9, 0, 0);
    webhook = await startWebhook();
    await start();
  });

  afterEach(async () => {
    await server.close();
    await webhook.close();
  });

  describe('authentication and routing', () => {
    it('refuses an unknown bot token with 401 Unauthorized in the Telegram envelope', async () => {
      const answer = await call('getMe', {}, '7012345678:AAwrongwrongwrongwrongwrongwrongwro');
      expect(answer).toEqual({
        status: 401,
        body: { ok: false, error_code: 401, description: 'Unauthorized' },
      });
    });

    it('answers 404 Not Found for a method the Bot API does not have', async () => {
      const answer = await call('launchRockets', {});
      expect(answer).toEqual({ status: 404, body: { ok: false, error_code: 404, description: 'Not Found' } });
    });

    it('describes the bot on getMe, with the id taken from the token', async () => {
      const answer = await call('getMe', {});
      expect(answer.status).toBe(200);
      expect(answer.body.result).toMatchObject({
        id: 7012345678,
        is_bot: true,
        username: 'shire_broker_bot',
      });
    });

    it('accepts method names case-insensitively and parameters in the query string', async () => {
      const response = await fetch(
        `${server.url}/telegram/bot${BOT_TOKEN}/SENDMESSAGE?chat_id=${ADMIN.id}&text=hello`,
      );
      const body = (await response.json()) as ApiAnswer['body'];
      expect(body.result).toMatchObject({ chat: { id: ADMIN.id, type: 'private' }, text: 'hello' });
    });
  });

  describe('sendMessage', () => {
    it('sends a message with an inline keyboard from a JSON body and records it in the outbox', async () => {
      const answer = await call('sendMessage', {
        chat_id: ADMIN_GROUP.id,
        text: 'Approve teardown of contoso?',
        reply_markup: { inline_keyboard: [[{ text: 'Approve', callback_data: 'a:1' }]] },
      });
      expect(answer.status).toBe(200);
      expect(answer.body.result).toEqual({
        message_id: 1,
        from: expect.objectContaining({ id: 7012345678, is_bot: true }),
        chat: { id: ADMIN_GROUP.id, type: 'supergroup', title: 'shire admins', username: 'shire_admins' },
        date: Math.floor(now / 1000),
        text: 'Approve teardown of contoso?',
        reply_markup: { inline_keyboard: [[{ text: 'Approve', callback_data: 'a:1' }]] },
      });
      expect(telegram.outbox(ADMIN_GROUP.id)).toEqual([
        expect.objectContaining({ kind: 'sent', messageId: 1, text: 'Approve teardown of contoso?' }),
      ]);
      expect(telegram.outbox(ADMIN.id)).toEqual([]);
    });

    it('accepts a form-urlencoded body with chat_id as "@username" and reply_markup as a JSON string', async () => {
      const answer = await callForm('sendMessage', {
        chat_id: '@shire_admins',
        text: 'form body',
        reply_markup: JSON.stringify({ inline_keyboard: [[{ text: 'Go', callback_data: 'go' }]] }),
      });
      expect(answer.body.result).toMatchObject({
        chat: { id: ADMIN_GROUP.id },
        reply_markup: { inline_keyboard: [[{ text: 'Go', callback_data: 'go' }]] },
      });
    });

    it('numbers messages per chat', async () => {
      await call('sendMessage', { chat_id: ADMIN.id, text: 'one' });
      const second = await call('sendMessage', { chat_id: ADMIN.id, text: 'two' });
      const otherChat = await call('sendMessage', { chat_id: ADMIN_GROUP.id, text: 'first here' });
      expect([second.body.result.message_id, otherChat.body.result.message_id]).toEqual([2, 1]);
    });

    it('refuses callback_data longer than 64 bytes, counting bytes and not characters', async () => {
      const sixtySixBytes = '€'.repeat(22);
      const answer = await call('sendMessage', {
        chat_id: ADMIN.id,
        text: 'x',
        reply_markup: { inline_keyboard: [[{ text: 'Approve', callback_data: sixtySixBytes }]] },
      });
      expect(sixtySixBytes.length).toBe(22);
      expect(answer).toEqual({
        status: 400,
        body: { ok: false, error_code: 400, description: 'Bad Request: BUTTON_DATA_INVALID' },
      });
    });

    it('accepts callback_data of exactly 64 bytes and refuses empty callback_data', async () => {
      const ok = await call('sendMessage', {
        chat_id: ADMIN.id,
        text: 'x',
        reply_markup: { inline_keyboard: [[{ text: 'A', callback_data: 'n'.repeat(64) }]] },
      });
      const empty = await call('sendMessage', {
        chat_id: ADMIN.id,
        text: 'x',
        reply_markup: { inline_keyboard: [[{ text: 'A', callback_data: '' }]] },
      });
      expect(ok.body.ok).toBe(true);
      expect(empty.body.description).toBe('Bad Request: BUTTON_DATA_INVALID');
    });

    it('answers "chat not found" for an unknown chat and "message text is empty" without text', async () => {
      const unknownChat = await call('sendMessage', { chat_id: 999, text: 'hi' });
      const noText = await call('sendMessage', { chat_id: ADMIN.id });
      expect(unknownChat.body).toEqual({
        ok: false,
        error_code: 400,
        description: 'Bad Request: chat not found',
      });
      expect(noText.body.description).toBe('Bad Request: message text is empty');
    });

    it('stores the text users see for HTML and refuses unknown HTML tags', async () => {
      const html = await call('sendMessage', {
        chat_id: ADMIN.id,
        text: '<b>Upgrade</b> contoso &amp; fabrikam',
        parse_mode: 'HTML',
      });
      const bad = await call('sendMessage', {
        chat_id: ADMIN.id,
        text: '<blink>x</blink>',
        parse_mode: 'HTML',
      });
      expect(html.body.result.text).toBe('Upgrade contoso & fabrikam');
      expect(telegram.outbox(ADMIN.id)[0]).toMatchObject({
        sourceText: '<b>Upgrade</b> contoso &amp; fabrikam',
        parseMode: 'HTML',
      });
      expect(bad.body.description).toBe(
        'Bad Request: can\'t parse entities: Unsupported start tag "blink" at byte offset 0',
      );
    });

    it('refuses an unescaped reserved character in MarkdownV2, as slugs with dashes would trigger', async () => {
      const bad = await call('sendMessage', {
        chat_id: ADMIN.id,
        text: '*Upgrade* my-slug',
        parse_mode: 'MarkdownV2',
      });
      const good = await call('sendMessage', {
        chat_id: ADMIN.id,
        text: '*Upgrade* my\\-slug',
        parse_mode: 'MarkdownV2',
      });
      expect(bad.body.description).toBe(
        "Bad Request: can't parse entities: Character '-' is reserved and must be escaped with the preceding '\\'",
      );
      expect(good.body.result.text).toBe('Upgrade my-slug');
    });

    it('refuses an unknown parse_mode', async () => {
      const answer = await call('sendMessage', { chat_id: ADMIN.id, text: 'x', parse_mode: 'BBCode' });
      expect(answer.body.description).toBe('Bad Request: unsupported parse_mode');
    });
  });

  describe('editing messages', () => {
    it('edits the text and drops the inline keyboard when the edit does not repeat it', async () => {
      const messageId = await sendApproval();
      now += 5_000;
      const answer = await call('editMessageText', {
        chat_id: ADMIN_GROUP.id,
        message_id: messageId,
        text: 'Approved by @ada',
      });
      expect(answer.body.result).toMatchObject({
        text: 'Approved by @ada',
        edit_date: Math.floor(now / 1000),
      });
      expect(answer.body.result.reply_markup).toBeUndefined();
      expect(telegram.outbox(ADMIN_GROUP.id).map((e) => e.kind)).toEqual(['sent', 'editedText']);
    });

    it('answers "message is not modified" when text and keyboard are the same', async () => {
      const messageId = await sendApproval();
      const same = await call('editMessageText', {
        chat_id: ADMIN_GROUP.id,
        message_id: messageId,
        text: 'Upgrade contoso to 2026.9.6?',
        reply_markup: telegram.message(ADMIN_GROUP.id, messageId)?.reply_markup,
      });
      expect(same.status).toBe(400);
      expect(same.body.description).toMatch(/^Bad Request: message is not modified/);
    });

    it('answers "message to edit not found" for a message that does not exist', async () => {
      const answer = await call('editMessageText', { chat_id: ADMIN_GROUP.id, message_id: 42, text: 'x' });
      expect(answer.body).toEqual({
        ok: false,
        error_code: 400,
        description: 'Bad Request: message to edit not found',
      });
    });

    it('removes the keyboard with editMessageReplyMarkup, and a second removal is "not modified"', async () => {
      const messageId = await sendApproval();
      const removed = await callForm('editMessageReplyMarkup', {
        chat_id: String(ADMIN_GROUP.id),
        message_id: String(messageId),
      });
      const again = await call('editMessageReplyMarkup', { chat_id: ADMIN_GROUP.id, message_id: messageId });
      expect(removed.body.ok).toBe(true);
      expect(telegram.message(ADMIN_GROUP.id, messageId)?.reply_markup).toBeUndefined();
      expect(again.body.description).toMatch(/^Bad Request: message is not modified/);
    });
  });

  describe('webhook registration', () => {
    it('sets a webhook, reports it without the secret, and deletes it', async () => {
      const set = await call('setWebhook', {
        url: webhook.url,
        secret_token: WEBHOOK_SECRET,
        allowed_updates: ['message', 'callback_query'],
      });
      const info = await call('getWebhookInfo', {});
      const deleted = await call('deleteWebhook', {});
      const deletedAgain = await call('deleteWebhook', {});
      expect(set.body).toEqual({ ok: true, result: true, description: 'Webhook was set' });
      expect(info.body.result).toEqual({
        url: webhook.url,
        has_custom_certificate: false,
        pending_update_count: 0,
        max_connections: 40,
        allowed_updates: ['message', 'callback_query'],
      });
      expect(JSON.stringify(info.body)).not.toContain(WEBHOOK_SECRET);
      expect(deleted.body.description).toBe('Webhook was deleted');
      expect(deletedAgain.body.description).toBe('Webhook is already deleted');
    });

    it('says "Webhook is already set" when nothing changes', async () => {
      await call('setWebhook', { url: webhook.url, secret_token: WEBHOOK_SECRET });
      const again = await call('setWebhook', { url: webhook.url, secret_token: WEBHOOK_SECRET });
      expect(again.body.description).toBe('Webhook is already set');
    });

    it('refuses a secret token with characters outside A-Z, a-z, 0-9, _ and -', async () => {
      const answer = await call('setWebhook', { url: webhook.url, secret_token: 'not allowed!' });
      expect(answer.body).toEqual({
        ok: false,
        error_code: 400,
        description: 'Bad Request: secret token contains unallowed characters',
      });
    });

    it('refuses a secret token longer than 256 characters', async () => {
      const answer = await call('setWebhook', { url: webhook.url, secret_token: 'a'.repeat(257) });
      expect(answer.status).toBe(400);
    });

    it('requires HTTPS and a Telegram port for webhooks that are not on the local host', async () => {
      const plain = await call('setWebhook', { url: 'http://broker.example.com/telegram' });
      const port = await call('setWebhook', { url: 'https://broker.example.com:9000/telegram' });
      expect(plain.body.description).toBe(
        'Bad Request: bad webhook: An HTTPS URL must be provided for webhook',
      );
      expect(port.body.description).toBe(
        'Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443',
      );
    });

    it('refuses getUpdates with 409 Conflict while a webhook is set', async () => {
      await call('setWebhook', { url: webhook.url });
      const answer = await call('getUpdates', {});
      expect(answer.status).toBe(409);
      expect(answer.body.description).toMatch(
        /^Conflict: can't use getUpdates method while webhook is active/,
      );
    });

    it('keeps updates for getUpdates when no webhook is set', async () => {
      await telegram.sendUserMessage({ chatId: ADMIN.id, fromUserId: ADMIN.id, text: 'hello' });
      const first = await call('getUpdates', {});
      const confirmed = await call('getUpdates', { offset: (first.body.result[0].update_id as number) + 1 });
      expect(first.body.result).toEqual([
        expect.objectContaining({ message: expect.objectContaining({ text: 'hello' }) }),
      ]);
      expect(confirmed.body.result).toEqual([]);
    });
  });

  describe('button presses and user messages reach the webhook', () => {
    beforeEach(async () => {
      await call('setWebhook', { url: webhook.url, secret_token: WEBHOOK_SECRET });
    });

    it('delivers a callback_query update with the secret header, which the webhook accepts', async () => {
      const messageId = await sendApproval();
      const delivery = await telegram.pressButton({
        chatId: ADMIN_GROUP.id,
        messageId,
        fromUserId: ADMIN.id,
        callbackData: 'a:nonce-1',
      });
      expect(delivery.status).toBe(200);
      expect(webhook.received).toHaveLength(1);
      const [received] = webhook.received;
      expect(received?.secret).toBe(WEBHOOK_SECRET);
      expect(received?.update).toEqual({
        update_id: delivery.updateId,
        callback_query: {
          id: expect.stringMatching(/^\d+$/),
          from: { id: ADMIN.id, is_bot: false, first_name: 'Ada', username: 'ada' },
          message: expect.objectContaining({
            message_id: messageId,
            chat: expect.objectContaining({ id: ADMIN_GROUP.id }),
          }),
          chat_instance: expect.stringMatching(/^-?\d+$/),
          data: 'a:nonce-1',
        },
      });
    });

    it('hands out increasing update ids', async () => {
      const messageId = await sendApproval();
      const press = { chatId: ADMIN_GROUP.id, messageId, fromUserId: ADMIN.id, callbackData: 'a:nonce-1' };
      const first = await telegram.pressButton(press);
      const second = await telegram.pressButton({ ...press, fromUserId: STRANGER.id });
      expect(second.updateId).toBe(first.updateId + 1);
    });

    it('lets a callback query be answered once; a second answer is "query is too old"', async () => {
      const messageId = await sendApproval();
      const delivery = await telegram.pressButton({
        chatId: ADMIN_GROUP.id,
        messageId,
        fromUserId: ADMIN.id,
        callbackData: 'r:nonce-1',
      });
      const queryId = delivery.update.callback_query!.id;
      const first = await call('answerCallbackQuery', {
        callback_query_id: queryId,
        text: 'Rejected',
        show_alert: true,
      });
      const second = await call('answerCallbackQuery', { callback_query_id: queryId });
      expect(first.body).toEqual({ ok: true, result: true });
      expect(telegram.callbackQuery(queryId)).toMatchObject({
        answered: true,
        answer: { text: 'Rejected', showAlert: true },
      });
      expect(second.body).toEqual({
        ok: false,
        error_code: 400,
        description: 'Bad Request: query is too old and response timeout expired or query ID is invalid',
      });
    });

    it('refuses to answer an unknown callback query, or one older than its time to live', async () => {
      const messageId = await sendApproval();
      const delivery = await telegram.pressButton({
        chatId: ADMIN_GROUP.id,
        messageId,
        fromUserId: ADMIN.id,
        callbackData: 'a:nonce-1',
      });
      now += 16 * 60 * 1000;
      const late = await call('answerCallbackQuery', {
        callback_query_id: delivery.update.callback_query!.id,
      });
      const unknown = await call('answerCallbackQuery', { callback_query_id: '123' });
      expect(late.status).toBe(400);
      expect(unknown.body.description).toMatch(/query ID is invalid$/);
    });

    it('only presses buttons the message actually has', async () => {
      const messageId = await sendApproval();
      await expect(
        telegram.pressButton({
          chatId: ADMIN_GROUP.id,
          messageId,
          fromUserId: ADMIN.id,
          callbackData: 'a:forged',
        }),
      ).rejects.toThrow(/no button/);
    });

    it('re-delivers the same update with the same update_id on replay', async () => {
      const messageId = await sendApproval();
      const first = await telegram.pressButton({
        chatId: ADMIN_GROUP.id,
        messageId,
        fromUserId: ADMIN.id,
        callbackData: 'a:nonce-1',
      });
      const replay = await telegram.replayUpdate(first.updateId);
      expect(replay.status).toBe(200);
      expect(webhook.received.map((r) => r.update)).toEqual([first.update, first.update]);
    });

    it('sends forged updates with a wrong or missing secret, which the webhook refuses', async () => {
      const messageId = await sendApproval();
      const genuine = await telegram.pressButton({
        chatId: ADMIN_GROUP.id,
        messageId,
        fromUserId: ADMIN.id,
        callbackData: 'a:nonce-1',
      });
      const wrong = await telegram.deliverForged(genuine.update, { secretToken: 'guessed' });
      const missing = await telegram.deliverForged(genuine.update, {});
      const info = await call('getWebhookInfo', {});
      expect([wrong.status, missing.status]).toEqual([401, 401]);
      expect(webhook.received.map((r) => r.secret)).toEqual([WEBHOOK_SECRET, 'guessed', undefined]);
      expect(info.body.result).toMatchObject({
        last_error_date: Math.floor(now / 1000),
        last_error_message: 'Wrong response from the webhook: 401 Unauthorized',
      });
    });

    it('delivers a user command as a message update with a bot_command entity', async () => {
      const delivery = await telegram.sendUserMessage({
        chatId: ADMIN_GROUP.id,
        fromUserId: ADMIN.id,
        text: '/devices contoso',
      });
      expect(delivery.status).toBe(200);
      expect(webhook.received[0]?.update.message).toMatchObject({
        from: { id: ADMIN.id, is_bot: false },
        chat: { id: ADMIN_GROUP.id, type: 'supergroup' },
        text: '/devices contoso',
        entities: [{ type: 'bot_command', offset: 0, length: 8 }],
      });
    });

    it('does not deliver update types left out of allowed_updates', async () => {
      await call('setWebhook', {
        url: webhook.url,
        secret_token: WEBHOOK_SECRET,
        allowed_updates: ['message'],
      });
      const messageId = await sendApproval();
      const delivery = await telegram.pressButton({
        chatId: ADMIN_GROUP.id,
        messageId,
        fromUserId: ADMIN.id,
        callbackData: 'a:nonce-1',
      });
      expect(delivery.delivered).toBe(false);
      expect(webhook.received).toEqual([]);
    });

    it('never puts the bot token or the webhook secret in its snapshot', async () => {
      const messageId = await sendApproval();
      await telegram.pressButton({
        chatId: ADMIN_GROUP.id,
        messageId,
        fromUserId: ADMIN.id,
        callbackData: 'a:nonce-1',
      });
      const snapshot = JSON.stringify(telegram.snapshot());
      expect(snapshot).not.toContain(BOT_TOKEN.split(':')[1]);
      expect(snapshot).not.toContain(WEBHOOK_SECRET);
      expect(telegram.snapshot()).toMatchObject({
        webhook: { url: webhook.url, hasSecretToken: true },
        pendingCallbackQueries: [expect.objectContaining({ data: 'a:nonce-1', answered: false })],
      });
    });
  });

  describe('webhook transports', () => {
    it('delivers to an https webhook with a self-signed certificate when given its CA', async () => {
      const pems = await generate([{ name: 'commonName', value: 'webhook test' }], {
        keyType: 'ec',
        curve: 'P-256',
        algorithm: 'sha256',
        extensions: [
          { name: 'basicConstraints', cA: true },
          { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
        ],
      });
      const httpsWebhook = await startWebhook({ key: pems.private, cert: pems.cert });
      try {
        await server.close();
        await start({ webhook: { ca: pems.cert } });
        await call('setWebhook', { url: httpsWebhook.url, secret_token: WEBHOOK_SECRET });
        const trusted = await telegram.sendUserMessage({
          chatId: ADMIN.id,
          fromUserId: ADMIN.id,
          text: 'hi',
        });
        expect(trusted.status).toBe(200);

        const plainTelegram = createTelegramSurface({
          clock: { now: () => now },
          botToken: BOT_TOKEN,
          users: [ADMIN],
        });
        const plainServer = await startSurfaceServer(plainTelegram);
        try {
          await fetch(
            `${plainServer.url}/telegram/bot${BOT_TOKEN}/setWebhook?url=${encodeURIComponent(httpsWebhook.url)}`,
          );
          const refused = await plainTelegram.sendUserMessage({
            chatId: ADMIN.id,
            fromUserId: ADMIN.id,
            text: 'hi',
          });
          expect(refused.delivered).toBe(false);
          expect(refused.error).toMatch(/certificate/i);
        } finally {
          await plainServer.close();
        }
      } finally {
        await httpsWebhook.close();
      }
    });

    it('delivers through a custom fetch when one is given', async () => {
      const seen: Array<{ url: string; headers: Record<string, string> }> = [];
      await server.close();
      await start({
        webhook: {
          fetch: async (url, init) => {
            seen.push({ url, headers: init.headers });
            return { status: 204, text: async () => '' };
          },
        },
      });
      await call('setWebhook', {
        url: 'https://broker.example.com/api/telegram',
        secret_token: WEBHOOK_SECRET,
      });
      const delivery = await telegram.sendUserMessage({
        chatId: ADMIN.id,
        fromUserId: ADMIN.id,
        text: '/start',
      });
      expect(delivery.status).toBe(204);
      expect(seen).toEqual([
        {
          url: 'https://broker.example.com/api/telegram',
          headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': WEBHOOK_SECRET },
        },
      ]);
    });
  });
});
