import { z } from 'zod';

/**
 * The part of a Telegram update the broker reads, validated. Unknown fields are kept out of the
 * way (Telegram adds fields over time); missing or mistyped fields the broker relies on make the
 * update malformed. Text fields are bounded so a hostile update cannot carry megabytes into logs
 * or the audit trail.
 */

const user = z.looseObject({
  id: z.number().int(),
  is_bot: z.boolean().optional(),
  first_name: z.string().max(256).optional(),
  username: z.string().max(64).optional(),
});

const chat = z.looseObject({
  id: z.number().int(),
  type: z.string().max(32),
});

const message = z.looseObject({
  message_id: z.number().int(),
  from: user.optional(),
  chat,
  date: z.number().int().optional(),
  text: z.string().max(4096).optional(),
});

const callbackQuery = z.looseObject({
  id: z.string().min(1).max(128),
  from: user,
  message: message.optional(),
  data: z.string().max(256).optional(),
});

export const telegramUpdateSchema = z.looseObject({
  update_id: z.number().int().nonnegative(),
  message: message.optional(),
  callback_query: callbackQuery.optional(),
});

export type TelegramUpdate = z.infer<typeof telegramUpdateSchema>;
export type TelegramUser = z.infer<typeof user>;
export type TelegramCallbackQuery = z.infer<typeof callbackQuery>;
export type TelegramMessage = z.infer<typeof message>;

/** A user's display name for messages: first name, or @username, or the id. */
export function displayName(from: TelegramUser): string {
  return from.first_name ?? (from.username ? `@${from.username}` : String(from.id));
}

/** A bot command and its arguments (`/status acme` or `/status@claw_bot acme`), or undefined. */
export function parseCommand(text: string | undefined): { command: string; args: string[] } | undefined {
  const match = /^\/([A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]{1,64})?(?:\s+(.*))?$/s.exec(text?.trim() ?? '');
  if (!match?.[1]) return undefined;
  return {
    command: match[1].toLowerCase(),
    args: (match[2] ?? '').split(/\s+/).filter(Boolean).slice(0, 8),
  };
}
