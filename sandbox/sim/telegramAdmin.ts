import { SimHttpError, type SimSurface } from './surface.js';
import type { TelegramSurface } from './telegram.js';

/**
 * A person's hands on the simulated Telegram, for the sandbox: read a chat as its members see it and
 * press a button or type a command, the way the Telegram app would (each becomes a real Update
 * posted to the broker's webhook with the secret-token header). Under /admin/telegram/ (loopback,
 * no auth, like the rest of /admin/).
 *
 * - `GET  /admin/telegram/chats/{chatId}`: the chat's messages, current text and buttons.
 * - `POST /admin/telegram/chats/{chatId}/messages/{messageId}/press` `{ "button": "Approve", "as": 1001 }`
 * - `POST /admin/telegram/chats/{chatId}/say` `{ "text": "/envs", "as": 1001 }`
 */
export function createTelegramAdminSurface(telegram: TelegramSurface): SimSurface {
  return {
    name: 'telegram-admin',
    prefix: '/admin/telegram/',
    snapshot: () => ({}),
    async handle(req) {
      const path = req.url.pathname.replace(/\/+$/, '');
      const chat = /^\/admin\/telegram\/chats\/(-?\d+)$/.exec(path);
      if (chat && req.method === 'GET') {
        const chatId = Number(chat[1]);
        const latest = new Map<number, { messageId: number; text: string; buttons: string[] }>();
        for (const entry of telegram.outbox(chatId)) {
          const message = telegram.message(chatId, entry.messageId);
          latest.set(entry.messageId, {
            messageId: entry.messageId,
            text: message?.text ?? entry.text,
            buttons: (message?.reply_markup?.inline_keyboard ?? []).flat().map((button) => button.text),
          });
        }
        return { status: 200, body: { chatId, messages: [...latest.values()] } };
      }
      const press = /^\/admin\/telegram\/chats\/(-?\d+)\/messages\/(\d+)\/press$/.exec(path);
      if (press && req.method === 'POST') {
        const chatId = Number(press[1]);
        const messageId = Number(press[2]);
        const body = req.json<{ button?: unknown; as?: unknown }>();
        const label = typeof body.button === 'string' ? body.button.toLowerCase() : '';
        const message = telegram.message(chatId, messageId);
        if (!message) throw new SimHttpError(404, { error: `no message ${messageId} in chat ${chatId}` });
        const button = (message.reply_markup?.inline_keyboard ?? [])
          .flat()
          .find((candidate) => candidate.text.toLowerCase().includes(label));
        if (!label || !button?.callback_data) {
          throw new SimHttpError(400, {
            error: `message ${messageId} has no button "${String(body.button)}"`,
          });
        }
        const delivery = await refusedIn400(() =>
          telegram.pressButton({
            chatId,
            messageId,
            fromUserId: asUserId(body.as),
            callbackData: button.callback_data!,
          }),
        );
        return {
          status: 200,
          body: { pressed: button.text, webhookStatus: delivery.status, error: delivery.error },
        };
      }
      const say = /^\/admin\/telegram\/chats\/(-?\d+)\/say$/.exec(path);
      if (say && req.method === 'POST') {
        const body = req.json<{ text?: unknown; as?: unknown }>();
        if (typeof body.text !== 'string' || body.text.length === 0)
          throw new SimHttpError(400, { error: 'text is required' });
        const text = body.text;
        const delivery = await refusedIn400(() =>
          telegram.sendUserMessage({ chatId: Number(say[1]), fromUserId: asUserId(body.as), text }),
        );
        return { status: 200, body: { webhookStatus: delivery.status, error: delivery.error } };
      }
      throw new SimHttpError(404, { error: `no admin route ${req.method} ${path}` });
    },
  };
}

/**
 * An unknown user or chat named by the caller is the caller's mistake: a 400 that says which, not a
 * 500 with a stack trace.
 */
async function refusedIn400<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (
      error instanceof Error &&
      /is not known to the simulator|does not exist in chat/.test(error.message)
    ) {
      throw new SimHttpError(400, { error: error.message });
    }
    throw error;
  }
}

function asUserId(value: unknown): number {
  const id = typeof value === 'string' ? Number(value) : value;
  if (typeof id !== 'number' || !Number.isInteger(id))
    throw new SimHttpError(400, { error: '"as" must be a Telegram user id' });
  return id;
}
