import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
/**
 * A small client for the Telegram Bot API over fetch (`<apiBase>/bot<token>/<method>`). The bot
 * token comes from a provider (Key Vault, cached) on every call and appears only in the request
 * URL: never in errors, logs or return values. Errors name the method and Telegram's description.
 */

export interface InlineButton {
  text: string;
  /** The opaque callback data (a nonce), at most 64 bytes. */
  data: string;
}

export interface TelegramClientOptions {
  /** TELEGRAM_API_BASE, `https://api.telegram.org` in production. */
  apiBase: string;
  token: () => Promise<string>;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export class TelegramApiError extends Error {
  override readonly name = 'TelegramApiError';
  constructor(
    readonly method: string,
    readonly status: number,
    readonly description: string,
  ) {
    super(`Telegram ${method} failed (${status}): ${description}`);
  }
}

export function isTelegramApiError(error: unknown): error is TelegramApiError {
  return error instanceof Error && error.name === 'TelegramApiError';
}

const MAX_TEXT = 4096;
const tracer = trace.getTracer('claw-broker');

export class TelegramClient {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: TelegramClientOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /** Sends a plain-text message, with inline buttons in rows when given. Returns its message id. */
  async sendMessage(input: {
    chatId: string | number;
    text: string;
    buttons?: InlineButton[][];
  }): Promise<{ messageId: number }> {
    const result = (await this.call('sendMessage', {
      chat_id: input.chatId,
      text: clip(input.text),
      ...(input.buttons ? { reply_markup: keyboard(input.buttons) } : {}),
    })) as { message_id?: unknown };
    if (typeof result.message_id !== 'number') {
      throw new TelegramApiError('sendMessage', 200, 'the answer carried no message_id');
    }
    return { messageId: result.message_id };
  }

  /**
   * Replaces a message's text and buttons (no buttons removes them). An edit to the same content
   * ("message is not modified") is success: the message already says it.
   */
  async editMessageText(input: {
    chatId: string | number;
    messageId: number;
    text: string;
    buttons?: InlineButton[][];
  }): Promise<void> {
    try {
      await this.call('editMessageText', {
        chat_id: input.chatId,
        message_id: input.messageId,
        text: clip(input.text),
        ...(input.buttons ? { reply_markup: keyboard(input.buttons) } : {}),
      });
    } catch (error) {
      if (isTelegramApiError(error) && /message is not modified/i.test(error.description)) return;
      throw error;
    }
  }

  /** Answers a button press (the small notice the presser sees). */
  async answerCallbackQuery(input: {
    callbackQueryId: string;
    text: string;
    showAlert?: boolean;
  }): Promise<void> {
    await this.call('answerCallbackQuery', {
      callback_query_id: input.callbackQueryId,
      text: input.text.slice(0, 200),
      show_alert: input.showAlert ?? false,
    });
  }

  /** Points the bot at the webhook with its secret token and the update kinds it handles. */
  async setWebhook(input: { url: string; secretToken: string; allowedUpdates: string[] }): Promise<void> {
    await this.call('setWebhook', {
      url: input.url,
      secret_token: input.secretToken,
      allowed_updates: input.allowedUpdates,
      drop_pending_updates: false,
    });
  }

  /**
   * One Bot API call as an OpenTelemetry client span, so it shows as a dependency in Application
   * Insights (the Azure Monitor distro instruments Node's http, not fetch). The span's URL has the
   * token replaced; the span processor's redaction would catch it anyway.
   */
  private call(method: string, params: Record<string, unknown>): Promise<unknown> {
    const base = this.options.apiBase.replace(/\/+$/, '');
    return tracer.startActiveSpan(
      `POST /bot{token}/${method}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'http.request.method': 'POST',
          'server.address': new URL(base).hostname,
          'url.full': `${base}/bot[redacted]/${method}`,
        },
      },
      async (span) => {
        try {
          const result = await this.send(method, params);
          span.setAttribute('http.response.status_code', 200);
          return result;
        } catch (error) {
          const status = isTelegramApiError(error) ? error.status : 0;
          if (status > 0) span.setAttribute('http.response.status_code', status);
          span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
          throw error;
        } finally {
          span.end();
        }
      },
    );
  }

  private async send(method: string, params: Record<string, unknown>): Promise<unknown> {
    const token = await this.options.token();
    const url = `${this.options.apiBase.replace(/\/+$/, '')}/bot${token}/${method}`;
    let response: Response;
    try {
      response = await this.fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(params),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 15_000),
      });
    } catch (error) {
      // The transport error may quote the URL, and the URL holds the token: keep only its kind.
      const kind = error instanceof Error ? error.name : 'Error';
      throw new TelegramApiError(method, 0, `${kind}: the Bot API could not be reached`);
    }
    let body: { ok?: unknown; result?: unknown; description?: unknown };
    try {
      body = (await response.json()) as typeof body;
    } catch {
      throw new TelegramApiError(method, response.status, 'the answer was not JSON');
    }
    if (!response.ok || body.ok !== true) {
      const description = typeof body.description === 'string' ? body.description : `HTTP ${response.status}`;
      throw new TelegramApiError(method, response.status, description.slice(0, 300));
    }
    return body.result;
  }
}

function keyboard(rows: InlineButton[][]): { inline_keyboard: { text: string; callback_data: string }[][] } {
  return {
    inline_keyboard: rows.map((row) =>
      row.map((button) => ({ text: button.text, callback_data: button.data })),
    ),
  };
}

function clip(text: string): string {
  return text.length <= MAX_TEXT ? text : `${text.slice(0, MAX_TEXT - 1)}…`;
}
