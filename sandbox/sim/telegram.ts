import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SimClock, SimRequest, SimResponse, SimSurface } from './surface.js';
import { normaliseParseMode, renderText, TelegramParseError, type ParseMode } from './telegram-format.js';
import type {
  InlineKeyboardButton,
  InlineKeyboardMarkup,
  TelegramCallbackQuery,
  TelegramChat,
  TelegramChatType,
  TelegramMessage,
  TelegramUpdate,
  TelegramUser,
  TelegramWebhookInfo,
} from './telegram-types.js';
import { postToWebhook, type WebhookTransportOptions } from './telegram-webhook.js';
import { messageOf } from '../../shared/errors.js';

export type * from './telegram-types.js';
export type { WebhookFetch, WebhookTransportOptions } from './telegram-webhook.js';

/** A person known to the simulated Telegram; each gets a private chat whose id is the user id. */
export interface TelegramUserOptions {
  id: number;
  first_name: string;
  last_name?: string;
  username?: string;
  language_code?: string;
}

export interface TelegramChatOptions {
  id: number;
  type: TelegramChatType;
  title?: string;
  username?: string;
}

export interface TelegramSurfaceOptions {
  clock: SimClock;
  /** The bot's token, `<bot id>:<secret>`; never logged or snapshotted. */
  botToken: string;
  botUsername?: string;
  botFirstName?: string;
  users?: TelegramUserOptions[];
  /** Group chats (private chats come from users). */
  chats?: TelegramChatOptions[];
  /** How updates reach the webhook (custom fetch, agent, CA for a self-signed certificate). */
  webhook?: WebhookTransportOptions;
  /** The first update_id handed out; later ones increase by one. */
  firstUpdateId?: number;
  /** How long a callback query can still be answered, in sim time; defaults to 15 minutes. */
  callbackQueryTtlMs?: number;
}

/** One bot message as sent or edited, in the order it happened. */
export interface OutboxEntry {
  kind: 'sent' | 'editedText' | 'editedReplyMarkup';
  chatId: number;
  messageId: number;
  /** The text as users see it (markup removed). */
  text: string;
  /** The text as the bot sent it, with markup. */
  sourceText: string;
  parseMode?: ParseMode;
  replyMarkup?: InlineKeyboardMarkup;
  /** Unix seconds, sim time. */
  date: number;
}

export interface WebhookDelivery {
  updateId: number;
  update: TelegramUpdate;
  /** True when the webhook answered at all (any status). */
  delivered: boolean;
  /** The HTTP status the webhook answered. */
  status?: number;
  responseBody?: string;
  /** Why it was not delivered: no webhook, filtered by allowed_updates, or a transport error. */
  error?: string;
}

export interface PressButtonOptions {
  chatId: number;
  messageId: number;
  fromUserId: number;
  callbackData: string;
}

export interface SendUserMessageOptions {
  chatId: number;
  fromUserId: number;
  text: string;
}

export interface CallbackQueryState {
  id: string;
  chatId: number;
  messageId: number;
  fromUserId: number;
  data: string;
  createdAt: number;
  answered: boolean;
  answer?: { text?: string; showAlert: boolean; url?: string };
}

export interface TelegramSurface extends SimSurface {
  /** Bot messages sent or edited, oldest first, optionally for one chat. */
  outbox(chatId?: number): OutboxEntry[];
  /** A message's current state, or undefined. */
  message(chatId: number, messageId: number): TelegramMessage | undefined;
  /** Presses an inline button as a user and delivers the callback_query update to the webhook. */
  pressButton(options: PressButtonOptions): Promise<WebhookDelivery>;
  /** A user writes in a chat (e.g. `/devices contoso`); the message update goes to the webhook. */
  sendUserMessage(options: SendUserMessageOptions): Promise<WebhookDelivery>;
  /** Delivers an already issued update again, same update_id, with the right secret. */
  replayUpdate(updateId: number): Promise<WebhookDelivery>;
  /** Delivers any update with the given secret header value, or without one, for security tests. */
  deliverForged(update: TelegramUpdate, options: { secretToken?: string }): Promise<WebhookDelivery>;
  /** The state of a callback query, answered or not. */
  callbackQuery(id: string): CallbackQueryState | undefined;
  addUser(user: TelegramUserOptions): void;
  addChat(chat: TelegramChatOptions): void;
}

const DEFAULT_CALLBACK_QUERY_TTL_MS = 15 * 60 * 1000;
const MAX_TEXT_LENGTH = 4096;
const MAX_CALLBACK_DATA_BYTES = 64;
const SECRET_TOKEN = /^[A-Za-z0-9_-]{1,256}$/;
const WEBHOOK_PORTS = new Set(['', '80', '88', '443', '8443']);
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
const DEFAULT_ALLOWED_UPDATES = [
  'message',
  'edited_message',
  'callback_query',
  'channel_post',
  'inline_query',
];
const QUERY_INVALID = 'Bad Request: query is too old and response timeout expired or query ID is invalid';
const NOT_MODIFIED =
  'Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message';

/** A Bot API error, answered in Telegram's envelope. */
class TelegramApiError extends Error {
  constructor(
    readonly errorCode: number,
    readonly description: string,
  ) {
    super(description);
    this.name = 'TelegramApiError';
  }
}

const badRequest = (detail: string) => new TelegramApiError(400, `Bad Request: ${detail}`);

interface StoredMessage {
  message: TelegramMessage;
  sourceText: string;
  parseMode?: ParseMode;
}

interface WebhookState {
  url: string;
  secretToken?: string;
  allowedUpdates?: string[];
  maxConnections: number;
  lastErrorDate?: number;
  lastErrorMessage?: string;
}

type Params = Record<string, unknown>;

type DeliveryRecord = Omit<WebhookDelivery, 'update' | 'responseBody'> & { type: string };

/** The Telegram surface as the state file holds it (the webhook's secret token included). */
interface TelegramStateData {
  chatInstanceSalt: string;
  users: [number, TelegramUser][];
  chats: [number, TelegramChat][];
  messages: [number, [number, StoredMessage][]][];
  lastMessageId: [number, number][];
  outbox: OutboxEntry[];
  callbackQueries: [string, CallbackQueryState][];
  issuedUpdates: [number, TelegramUpdate][];
  pendingUpdates: TelegramUpdate[];
  deliveries: DeliveryRecord[];
  nextUpdateId: number;
  webhook?: WebhookState;
}

/**
 * Creates the simulated Telegram Bot API at `/telegram/bot<token>/<method>`. All state lives in
 * the returned object; time comes from `options.clock`. The bot token and the webhook secret are
 * never part of the snapshot.
 */
export function createTelegramSurface(options: TelegramSurfaceOptions): TelegramSurface {
  const tokenMatch = /^(\d+):[A-Za-z0-9_-]{20,}$/.exec(options.botToken);
  if (!tokenMatch?.[1]) throw new Error('botToken must look like "<bot id>:<secret>"');
  const botTokenBytes = Buffer.from(options.botToken);
  const bot: TelegramUser = {
    id: Number(tokenMatch[1]),
    is_bot: true,
    first_name: options.botFirstName ?? 'Claw Broker',
    username: options.botUsername ?? 'claw_broker_bot',
  };
  const clock = options.clock;
  const callbackTtl = options.callbackQueryTtlMs ?? DEFAULT_CALLBACK_QUERY_TTL_MS;
  let chatInstanceSalt = randomBytes(16);

  const users = new Map<number, TelegramUser>();
  const chats = new Map<number, TelegramChat>();
  const messages = new Map<number, Map<number, StoredMessage>>();
  const lastMessageId = new Map<number, number>();
  const outboxEntries: OutboxEntry[] = [];
  const callbackQueries = new Map<string, CallbackQueryState>();
  const issuedUpdates = new Map<number, TelegramUpdate>();
  const pendingUpdates: TelegramUpdate[] = [];
  const deliveries: DeliveryRecord[] = [];
  let nextUpdateId = options.firstUpdateId ?? 700_000_001;
  let webhook: WebhookState | undefined;

  const nowSeconds = () => Math.floor(clock.now() / 1000);

  function addUser(user: TelegramUserOptions): void {
    users.set(user.id, { ...user, is_bot: false });
    if (!chats.has(user.id)) {
      chats.set(user.id, {
        id: user.id,
        type: 'private',
        first_name: user.first_name,
        ...(user.last_name !== undefined ? { last_name: user.last_name } : {}),
        ...(user.username !== undefined ? { username: user.username } : {}),
      });
    }
  }
  function addChat(chat: TelegramChatOptions): void {
    chats.set(chat.id, { ...chat });
  }
  for (const user of options.users ?? []) addUser(user);
  for (const chat of options.chats ?? []) addChat(chat);

  function chatInstance(chatId: number): string {
    const digest = createHash('sha256').update(chatInstanceSalt).update(String(chatId)).digest();
    return BigInt.asIntN(64, digest.readBigUInt64BE(0)).toString();
  }

  function storeMessage(chat: TelegramChat, from: TelegramUser, text: string): TelegramMessage {
    const messageId = (lastMessageId.get(chat.id) ?? 0) + 1;
    lastMessageId.set(chat.id, messageId);
    const message: TelegramMessage = { message_id: messageId, from, chat, date: nowSeconds(), text };
    const chatMessages = messages.get(chat.id) ?? new Map<number, StoredMessage>();
    chatMessages.set(messageId, { message, sourceText: text });
    messages.set(chat.id, chatMessages);
    return message;
  }

  function record(kind: OutboxEntry['kind'], stored: StoredMessage): void {
    const { message } = stored;
    outboxEntries.push({
      kind,
      chatId: message.chat.id,
      messageId: message.message_id,
      text: message.text ?? '',
      sourceText: stored.sourceText,
      ...(stored.parseMode ? { parseMode: stored.parseMode } : {}),
      ...(message.reply_markup ? { replyMarkup: structuredClone(message.reply_markup) } : {}),
      date: message.edit_date ?? message.date,
    });
  }

  // ---- parameter parsing: Telegram accepts query string, JSON and form-urlencoded bodies ----

  function readParams(req: SimRequest): Params {
    const params: Params = Object.fromEntries(req.url.searchParams);
    if (req.body.length === 0) return params;
    const contentType = (req.headers['content-type'] ?? '').toLowerCase();
    if (contentType.startsWith('application/json')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(req.body.toString('utf8'));
      } catch {
        throw badRequest("can't parse JSON encoded request parameters");
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw badRequest('parameters must be a JSON object');
      }
      return { ...params, ...(parsed as Params) };
    }
    if (contentType.startsWith('application/x-www-form-urlencoded')) {
      return { ...params, ...Object.fromEntries(new URLSearchParams(req.body.toString('utf8'))) };
    }
    throw badRequest('unsupported request body content type');
  }

  function optionalString(params: Params, name: string): string | undefined {
    const value = params[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    throw badRequest(`field "${name}" must be of type String`);
  }

  function optionalInteger(params: Params, name: string): number | undefined {
    const value = params[name];
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value === 'number' && Number.isInteger(value)) return value;
    if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return Number(value.trim());
    throw badRequest(`field "${name}" must be of type Integer`);
  }

  function optionalBoolean(params: Params, name: string): boolean {
    const value = params[name];
    return value === true || value === 'true' || value === '1' || value === 1;
  }

  function optionalJson(params: Params, name: string, parseError: string): unknown {
    const value = params[name];
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value);
    } catch {
      throw badRequest(parseError);
    }
  }

  function resolveChat(params: Params): TelegramChat {
    const raw = params['chat_id'];
    if (raw === undefined || raw === null || raw === '') throw badRequest('chat_id is empty');
    if (typeof raw === 'string' && raw.startsWith('@')) {
      const username = raw.slice(1).toLowerCase();
      const chat = [...chats.values()].find((c) => c.username?.toLowerCase() === username);
      if (!chat) throw badRequest('chat not found');
      return chat;
    }
    const id = optionalInteger(params, 'chat_id');
    const chat = id === undefined ? undefined : chats.get(id);
    if (!chat) throw badRequest('chat not found');
    return chat;
  }

  function readParseMode(params: Params): ParseMode | undefined {
    const raw = optionalString(params, 'parse_mode');
    if (raw === undefined || raw === '') return undefined;
    const mode = normaliseParseMode(raw);
    if (!mode) throw badRequest('unsupported parse_mode');
    return mode;
  }

  function readText(params: Params, parseMode: ParseMode | undefined): { source: string; plain: string } {
    const source = optionalString(params, 'text') ?? '';
    let plain: string;
    try {
      plain = renderText(source, parseMode);
    } catch (err) {
      if (err instanceof TelegramParseError) throw new TelegramApiError(400, err.message);
      throw err;
    }
    if (plain.trim() === '') throw badRequest('message text is empty');
    if (plain.length > MAX_TEXT_LENGTH) throw badRequest('message is too long');
    return { source, plain };
  }

  function readReplyMarkup(params: Params): InlineKeyboardMarkup | undefined {
    const markup = optionalJson(params, 'reply_markup', "can't parse reply keyboard markup JSON object");
    if (markup === undefined) return undefined;
    if (typeof markup !== 'object' || markup === null) {
      throw badRequest('object expected as reply markup');
    }
    const keyboard = (markup as { inline_keyboard?: unknown }).inline_keyboard;
    if (keyboard === undefined) return undefined;
    if (!Array.isArray(keyboard) || !keyboard.every((row) => Array.isArray(row))) {
      throw badRequest('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays');
    }
    const rows = keyboard as unknown[][];
    return {
      inline_keyboard: rows.map((row) => row.map((button) => readButton(button))),
    };
  }

  function readButton(button: unknown): InlineKeyboardButton {
    if (typeof button !== 'object' || button === null) {
      throw badRequest("can't parse inline keyboard button: InlineKeyboardButton must be an Object");
    }
    const { text, callback_data: data, url } = button as Record<string, unknown>;
    if (typeof text !== 'string' || text === '') {
      throw badRequest('can\'t parse inline keyboard button: Field "text" must be of type String');
    }
    if (data !== undefined) {
      if (typeof data !== 'string') throw badRequest('BUTTON_DATA_INVALID');
      const bytes = Buffer.byteLength(data, 'utf8');
      if (bytes < 1 || bytes > MAX_CALLBACK_DATA_BYTES) throw badRequest('BUTTON_DATA_INVALID');
      return { text, callback_data: data };
    }
    if (typeof url === 'string') {
      if (!URL.canParse(url)) throw badRequest('BUTTON_URL_INVALID');
      return { text, url };
    }
    throw badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard");
  }

  function findMessage(params: Params, what: 'edit'): StoredMessage {
    const chat = resolveChat(params);
    const messageId = optionalInteger(params, 'message_id');
    if (messageId === undefined) throw badRequest('message identifier is not specified');
    const stored = messages.get(chat.id)?.get(messageId);
    if (!stored) throw badRequest(`message to ${what} not found`);
    if (stored.message.from?.id !== bot.id) throw badRequest("message can't be edited");
    return stored;
  }

  const sameMarkup = (a?: InlineKeyboardMarkup, b?: InlineKeyboardMarkup) =>
    JSON.stringify(a) === JSON.stringify(b);

  // ---- Bot API methods ----

  const methods: Record<string, (params: Params) => { result: unknown; description?: string }> = {
    getme: () => ({
      result: {
        ...bot,
        can_join_groups: true,
        can_read_all_group_messages: false,
        supports_inline_queries: false,
        can_connect_to_business: false,
        has_main_web_app: false,
      },
    }),

    setwebhook: (params) => {
      const url = optionalString(params, 'url') ?? '';
      if (url === '') return methods['deletewebhook']!(params);
      if (!URL.canParse(url))
        throw badRequest('bad webhook: Failed to resolve host: Name or service not known');
      const target = new URL(url);
      const loopback = LOOPBACK_HOSTS.has(target.hostname);
      // The simulator relaxes Telegram's HTTPS-and-port rule for loopback webhooks only.
      if (target.protocol !== 'https:' && !(loopback && target.protocol === 'http:')) {
        throw badRequest('bad webhook: An HTTPS URL must be provided for webhook');
      }
      if (!loopback && !WEBHOOK_PORTS.has(target.port)) {
        throw badRequest('bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443');
      }
      const secret = optionalString(params, 'secret_token');
      if (secret !== undefined && secret !== '' && !SECRET_TOKEN.test(secret)) {
        throw badRequest('secret token contains unallowed characters');
      }
      const allowed = optionalJson(params, 'allowed_updates', "can't parse allowed updates JSON object");
      if (
        allowed !== undefined &&
        (!Array.isArray(allowed) || !allowed.every((u) => typeof u === 'string'))
      ) {
        throw badRequest('allowed_updates must be an Array of String');
      }
      const maxConnections = optionalInteger(params, 'max_connections') ?? 40;
      if (maxConnections < 1 || maxConnections > 100) throw badRequest('invalid max_connections specified');
      if (optionalBoolean(params, 'drop_pending_updates')) pendingUpdates.length = 0;
      const next: WebhookState = {
        url,
        ...(secret ? { secretToken: secret } : {}),
        ...(allowed !== undefined ? { allowedUpdates: allowed } : {}),
        maxConnections,
      };
      const unchanged =
        webhook !== undefined &&
        webhook.url === next.url &&
        webhook.secretToken === next.secretToken &&
        JSON.stringify(webhook.allowedUpdates) === JSON.stringify(next.allowedUpdates) &&
        webhook.maxConnections === next.maxConnections;
      webhook = { ...next, ...(unchanged && webhook ? lastError(webhook) : {}) };
      return { result: true, description: unchanged ? 'Webhook is already set' : 'Webhook was set' };
    },

    deletewebhook: (params) => {
      if (optionalBoolean(params, 'drop_pending_updates')) pendingUpdates.length = 0;
      const had = webhook !== undefined;
      webhook = undefined;
      return { result: true, description: had ? 'Webhook was deleted' : 'Webhook is already deleted' };
    },

    getwebhookinfo: () => ({ result: webhookInfo() }),

    getupdates: (params) => {
      if (webhook) {
        throw new TelegramApiError(
          409,
          "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
        );
      }
      const offset = optionalInteger(params, 'offset');
      if (offset !== undefined) {
        while (pendingUpdates.length > 0 && pendingUpdates[0]!.update_id < offset) pendingUpdates.shift();
      }
      const limit = Math.min(Math.max(optionalInteger(params, 'limit') ?? 100, 1), 100);
      return { result: pendingUpdates.slice(0, limit) };
    },

    sendmessage: (params) => {
      const chat = resolveChat(params);
      const parseMode = readParseMode(params);
      const { source, plain } = readText(params, parseMode);
      const markup = readReplyMarkup(params);
      const message = storeMessage(chat, bot, plain);
      if (markup) message.reply_markup = markup;
      const stored = messages.get(chat.id)!.get(message.message_id)!;
      stored.sourceText = source;
      if (parseMode) stored.parseMode = parseMode;
      record('sent', stored);
      return { result: message };
    },

    editmessagetext: (params) => {
      if (params['inline_message_id'] !== undefined) throw badRequest('MESSAGE_ID_INVALID');
      const stored = findMessage(params, 'edit');
      const parseMode = readParseMode(params);
      const { source, plain } = readText(params, parseMode);
      // Telegram drops the inline keyboard when an edit does not repeat it.
      const markup = readReplyMarkup(params);
      if (
        stored.sourceText === source &&
        stored.parseMode === parseMode &&
        sameMarkup(stored.message.reply_markup, markup)
      ) {
        throw new TelegramApiError(400, NOT_MODIFIED);
      }
      stored.message.text = plain;
      stored.sourceText = source;
      if (parseMode) stored.parseMode = parseMode;
      else delete stored.parseMode;
      if (markup) stored.message.reply_markup = markup;
      else delete stored.message.reply_markup;
      stored.message.edit_date = nowSeconds();
      record('editedText', stored);
      return { result: stored.message };
    },

    editmessagereplymarkup: (params) => {
      if (params['inline_message_id'] !== undefined) throw badRequest('MESSAGE_ID_INVALID');
      const stored = findMessage(params, 'edit');
      const markup = readReplyMarkup(params);
      if (sameMarkup(stored.message.reply_markup, markup)) throw new TelegramApiError(400, NOT_MODIFIED);
      if (markup) stored.message.reply_markup = markup;
      else delete stored.message.reply_markup;
      stored.message.edit_date = nowSeconds();
      record('editedReplyMarkup', stored);
      return { result: stored.message };
    },

    answercallbackquery: (params) => {
      const id = optionalString(params, 'callback_query_id');
      const query = id === undefined ? undefined : callbackQueries.get(id);
      if (!query || query.answered || clock.now() - query.createdAt > callbackTtl) {
        throw new TelegramApiError(400, QUERY_INVALID);
      }
      const text = optionalString(params, 'text');
      if (text !== undefined && text.length > 200) throw badRequest('MESSAGE_TOO_LONG');
      const url = optionalString(params, 'url');
      query.answered = true;
      query.answer = {
        ...(text !== undefined ? { text } : {}),
        showAlert: optionalBoolean(params, 'show_alert'),
        ...(url !== undefined ? { url } : {}),
      };
      return { result: true };
    },
  };

  function lastError(state: WebhookState): Pick<WebhookState, 'lastErrorDate' | 'lastErrorMessage'> {
    return {
      ...(state.lastErrorDate !== undefined ? { lastErrorDate: state.lastErrorDate } : {}),
      ...(state.lastErrorMessage !== undefined ? { lastErrorMessage: state.lastErrorMessage } : {}),
    };
  }

  function webhookInfo(): TelegramWebhookInfo {
    if (!webhook) {
      return { url: '', has_custom_certificate: false, pending_update_count: pendingUpdates.length };
    }
    return {
      url: webhook.url,
      has_custom_certificate: false,
      pending_update_count: pendingUpdates.length,
      max_connections: webhook.maxConnections,
      ...(webhook.allowedUpdates ? { allowed_updates: [...webhook.allowedUpdates] } : {}),
      ...(webhook.lastErrorDate !== undefined ? { last_error_date: webhook.lastErrorDate } : {}),
      ...(webhook.lastErrorMessage !== undefined ? { last_error_message: webhook.lastErrorMessage } : {}),
    };
  }

  // ---- webhook deliveries ----

  function updateType(update: TelegramUpdate): string {
    return Object.keys(update).find((key) => key !== 'update_id') ?? 'unknown';
  }

  function issue(fields: Omit<TelegramUpdate, 'update_id'>): TelegramUpdate {
    const update: TelegramUpdate = { update_id: nextUpdateId, ...fields };
    nextUpdateId += 1;
    issuedUpdates.set(update.update_id, update);
    return update;
  }

  async function deliver(update: TelegramUpdate, secretToken: string | undefined): Promise<WebhookDelivery> {
    const type = updateType(update);
    const base = { updateId: update.update_id, update };
    const remember = (delivery: WebhookDelivery): WebhookDelivery => {
      deliveries.push({
        updateId: delivery.updateId,
        type,
        delivered: delivery.delivered,
        ...(delivery.status !== undefined ? { status: delivery.status } : {}),
        ...(delivery.error !== undefined ? { error: delivery.error } : {}),
      });
      return delivery;
    };
    if (!webhook) {
      if (!pendingUpdates.some((u) => u.update_id === update.update_id)) pendingUpdates.push(update);
      return remember({ ...base, delivered: false, error: 'no webhook is set; kept for getUpdates' });
    }
    if (!(webhook.allowedUpdates ?? DEFAULT_ALLOWED_UPDATES).includes(type)) {
      return remember({ ...base, delivered: false, error: `"${type}" is not in allowed_updates` });
    }
    const target = webhook;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (secretToken !== undefined) headers['x-telegram-bot-api-secret-token'] = secretToken;
    try {
      const answer = await postToWebhook(target.url, headers, JSON.stringify(update), options.webhook ?? {});
      if (answer.status < 200 || answer.status > 299) {
        target.lastErrorDate = nowSeconds();
        target.lastErrorMessage =
          `Wrong response from the webhook: ${answer.status} ${answer.statusText}`.trim();
      }
      return remember({ ...base, delivered: true, status: answer.status, responseBody: answer.body });
    } catch (err) {
      const error = messageOf(err);
      target.lastErrorDate = nowSeconds();
      target.lastErrorMessage = error;
      return remember({ ...base, delivered: false, error });
    }
  }

  function requireUser(id: number): TelegramUser {
    const user = users.get(id);
    if (!user) throw new Error(`Telegram user ${id} is not known to the simulator`);
    return user;
  }

  // ---- SimSurface ----

  function envelopeError(err: TelegramApiError): SimResponse {
    return {
      status: err.errorCode,
      body: { ok: false, error_code: err.errorCode, description: err.description },
    };
  }

  function tokenMatches(token: string): boolean {
    const candidate = Buffer.from(token);
    return candidate.length === botTokenBytes.length && timingSafeEqual(candidate, botTokenBytes);
  }

  async function handle(req: SimRequest): Promise<SimResponse | undefined> {
    const match = /^\/telegram\/bot([^/]*)\/([^/]*)$/.exec(req.url.pathname);
    if (!match) return envelopeError(new TelegramApiError(404, 'Not Found'));
    const [, token = '', methodName = ''] = match;
    if (!tokenMatches(decodeURIComponent(token)))
      return envelopeError(new TelegramApiError(401, 'Unauthorized'));
    const method = methods[methodName.toLowerCase()];
    if (!method) return envelopeError(new TelegramApiError(404, 'Not Found'));
    try {
      const { result, description } = method(readParams(req));
      return { status: 200, body: { ok: true, result, ...(description ? { description } : {}) } };
    } catch (err) {
      if (err instanceof TelegramApiError) return envelopeError(err);
      throw err;
    }
  }

  return {
    name: 'telegram',
    prefix: '/telegram/',
    handle,

    snapshot() {
      const info = webhookInfo();
      return {
        bot: { id: bot.id, username: bot.username },
        webhook: { ...info, hasSecretToken: webhook?.secretToken !== undefined },
        outbox: outboxEntries.map((entry) => structuredClone(entry)),
        pendingCallbackQueries: [...callbackQueries.values()]
          .filter((q) => !q.answered && clock.now() - q.createdAt <= callbackTtl)
          .map((q) => ({ ...q })),
        deliveries: deliveries.map((d) => ({ ...d })),
        nextUpdateId,
      };
    },

    exportState(): TelegramStateData {
      return structuredClone({
        chatInstanceSalt: chatInstanceSalt.toString('base64'),
        users: [...users],
        chats: [...chats],
        messages: [...messages].map(([chatId, chatMessages]) => [chatId, [...chatMessages]]),
        lastMessageId: [...lastMessageId],
        outbox: outboxEntries,
        callbackQueries: [...callbackQueries],
        issuedUpdates: [...issuedUpdates],
        pendingUpdates,
        deliveries,
        nextUpdateId,
        ...(webhook ? { webhook } : {}),
      });
    },

    importState(state) {
      const data = state as TelegramStateData;
      chatInstanceSalt = Buffer.from(data.chatInstanceSalt, 'base64');
      const refill = <K, V>(map: Map<K, V>, entries: [K, V][]) => {
        map.clear();
        for (const [key, value] of entries) map.set(key, value);
      };
      refill(users, data.users);
      refill(chats, data.chats);
      refill(
        messages,
        data.messages.map(([chatId, chatMessages]) => [chatId, new Map(chatMessages)]),
      );
      refill(lastMessageId, data.lastMessageId);
      refill(callbackQueries, data.callbackQueries);
      refill(issuedUpdates, data.issuedUpdates);
      outboxEntries.splice(0, outboxEntries.length, ...data.outbox);
      pendingUpdates.splice(0, pendingUpdates.length, ...data.pendingUpdates);
      deliveries.splice(0, deliveries.length, ...data.deliveries);
      nextUpdateId = data.nextUpdateId;
      webhook = data.webhook;
      // Users and chats given as options exist whatever the saved state says.
      for (const user of options.users ?? []) addUser(user);
      for (const chat of options.chats ?? []) addChat(chat);
    },

    outbox: (chatId) =>
      outboxEntries.filter((e) => chatId === undefined || e.chatId === chatId).map((e) => structuredClone(e)),

    message(chatId, messageId) {
      const stored = messages.get(chatId)?.get(messageId);
      return stored ? structuredClone(stored.message) : undefined;
    },

    async pressButton({ chatId, messageId, fromUserId, callbackData }) {
      const from = requireUser(fromUserId);
      const stored = messages.get(chatId)?.get(messageId);
      if (!stored) throw new Error(`message ${messageId} does not exist in chat ${chatId}`);
      const buttons = stored.message.reply_markup?.inline_keyboard.flat() ?? [];
      if (!buttons.some((button) => button.callback_data === callbackData)) {
        throw new Error(`message ${messageId} in chat ${chatId} has no button with that callback data`);
      }
      const query: TelegramCallbackQuery = {
        id: BigInt.asUintN(63, randomBytes(8).readBigUInt64BE(0)).toString(),
        from,
        message: structuredClone(stored.message),
        chat_instance: chatInstance(chatId),
        data: callbackData,
      };
      callbackQueries.set(query.id, {
        id: query.id,
        chatId,
        messageId,
        fromUserId,
        data: callbackData,
        createdAt: clock.now(),
        answered: false,
      });
      return deliver(issue({ callback_query: query }), webhook?.secretToken);
    },

    async sendUserMessage({ chatId, fromUserId, text }) {
      const from = requireUser(fromUserId);
      const chat = chats.get(chatId);
      if (!chat) throw new Error(`chat ${chatId} is not known to the simulator`);
      const message = storeMessage(chat, from, text);
      const command = /^\/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?/.exec(text);
      if (command) message.entities = [{ type: 'bot_command', offset: 0, length: command[0].length }];
      return deliver(issue({ message: structuredClone(message) }), webhook?.secretToken);
    },

    async replayUpdate(updateId) {
      const update = issuedUpdates.get(updateId);
      if (!update) throw new Error(`update ${updateId} was never issued`);
      return deliver(update, webhook?.secretToken);
    },

    deliverForged: (update, { secretToken }) => deliver(update, secretToken),

    callbackQuery(id) {
      const query = callbackQueries.get(id);
      return query ? structuredClone(query) : undefined;
    },

    addUser,
    addChat,
  };
}
