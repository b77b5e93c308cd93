import type { TelegramClient } from '../telegram/telegramClient.js';

/**
 * Where maintenance tells the admins what needs a person: a bot token past its age, a SAS renewal
 * that keeps failing. Messages carry slugs, kinds, times and reasons, never secret values.
 */
export interface AdminChat {
  tell(text: string): Promise<void>;
}

/** The admin chat over the broker's Telegram bot (TELEGRAM_ADMIN_CHAT_ID; token from the broker vault). */
export function telegramAdminChat(telegram: TelegramClient, chatId: string): AdminChat {
  return {
    async tell(text) {
      await telegram.sendMessage({ chatId, text });
    },
  };
}
