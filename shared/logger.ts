import { trace } from '@opentelemetry/api';
import { logs, SeverityNumber } from '@opentelemetry/api-logs';

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

/** The fields an operator filters by in Application Insights: set on the active span too. */
const CORRELATION_FIELDS = ['slug', 'op', 'requestId', 'step'] as const;
const SEVERITY = {
  info: SeverityNumber.INFO,
  warn: SeverityNumber.WARN,
  error: SeverityNumber.ERROR,
} as const;
const otelLogger = logs.getLogger('claw-broker');

/**
 * A logger over an InvocationContext (or console): one line per event, fields as JSON. Each event
 * is also an OpenTelemetry log record whose attributes are the fields (Application Insights shows
 * them as custom dimensions: `slug`, `op`, `requestId`, `step`, ...), and the correlation fields
 * are set on the active span, so a trace can be found by slug or request. Without the Azure
 * Monitor distro (tests, the sandbox) both are OpenTelemetry's no-ops. Everything passes `redact`
 * here and the distro's redaction processors again before export.
 */
export function createLogger(sink: LogSink, base: LogFields = {}): Logger {
  const emit = (level: keyof typeof SEVERITY, message: string, fields?: LogFields) => {
    const all = { ...base, ...fields };
    const attributes: Record<string, string | number | boolean> = {};
    for (const [key, value] of Object.entries(all)) {
      if (value !== undefined) attributes[key] = typeof value === 'string' ? redact(value) : value;
    }
    const span = trace.getActiveSpan();
    for (const key of CORRELATION_FIELDS) {
      const value = attributes[key];
      if (value !== undefined) span?.setAttribute(key, value);
    }
    const text = redact(`${message} ${JSON.stringify(all)}`);
    otelLogger.emit({
      severityNumber: SEVERITY[level],
      severityText: level.toUpperCase(),
      body: redact(message),
      attributes,
    });
    if (level === 'info') sink.log(text);
    else sink[level](text);
  };
  return {
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
  };
}
