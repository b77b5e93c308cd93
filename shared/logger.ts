/**
 * The broker's logger: structured, with allow-listed fields only. Call sites pass identifiers
 * (request id, slug, op, codes), never payloads, headers or secret values; `redact` is the last
 * line of defence for values that look like credentials.
 */
export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export type LogFields = Record<string, string | number | boolean | undefined>;

export interface LogSink {
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

const CREDENTIAL_LIKE = [
  /(?<!\d)\d{5,}:[A-Za-z0-9_-]{30,}/g, // Telegram bot token, also inside a Bot API URL (`/bot<token>/`)
  /\b[0-9a-f]{64}\b/gi, // 32-byte hex tokens (gateway token)
  /\b(?:sig|sv|se|sp|skoid)=[^&\s]+/gi, // SAS query parts
  /AccountKey=[^;\s]+/gi,
  /Bearer\s+[A-Za-z0-9._~+/-]+=*/gi,
];

export function redact(text: string): string {
  return CREDENTIAL_LIKE.reduce((acc, pattern) => acc.replace(pattern, '[redacted]'), text);
}

/** A logger over an InvocationContext (or console): one line per event, fields as JSON. */
export function createLogger(sink: LogSink, base: LogFields = {}): Logger {
  const line = (message: string, fields?: LogFields) =>
    redact(`${message} ${JSON.stringify({ ...base, ...fields })}`);
  return {
    info: (message, fields) => sink.log(line(message, fields)),
    warn: (message, fields) => sink.warn(line(message, fields)),
    error: (message, fields) => sink.error(line(message, fields)),
  };
}
