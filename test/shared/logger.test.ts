import { context, trace } from '@opentelemetry/api';
import { logs } from '@opentelemetry/api-logs';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { createLogger, redact } from '../../shared/logger.js';

/** The logger's last line of defence: credential-looking values never reach a log line. */
const BOT_TOKEN = '7000000079:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq';

describe('redact', () => {
  it('redacts a Telegram bot token alone and inside a Bot API URL', () => {
    expect(redact(`token ${BOT_TOKEN}`)).toBe('token [redacted]');
    expect(redact(`https://api.telegram.org/bot${BOT_TOKEN}/sendMessage`)).toBe(
      'https://api.telegram.org/bot[redacted]/sendMessage',
    );
  });

  it('redacts SAS signatures, account keys, bearer tokens and 32-byte hex tokens', () => {
    const hex = 'ab'.repeat(32);
    const line = redact(
      `?sv=2025-01-05&sig=abc%3D AccountKey=c2VjcmV0; Bearer eyJhbGciOi.eyJzdWIi.sig token ${hex}`,
    );
    expect(line).not.toMatch(/abc%3D|c2VjcmV0|eyJhbGciOi|ab{64}/);
    expect(line).not.toContain(hex);
  });

  it('leaves ordinary identifiers and times alone', () => {
    const text = 'request 2026-11-22-acme at 12:30:45, update 123456789, slug acme';
    expect(redact(text)).toBe(text);
  });

  it('is applied to every line the logger writes', () => {
    const lines: string[] = [];
    const push = (line: unknown) => void lines.push(String(line));
    createLogger({ log: push, warn: push, error: push }).error(`failed bot${BOT_TOKEN}`, {
      url: `https://api.telegram.org/bot${BOT_TOKEN}/getMe`,
    });
    expect(lines.join('\n')).not.toContain(BOT_TOKEN);
  });

  it('sends each event as an OpenTelemetry log record with its fields as attributes, and tags the active span', () => {
    const records = new InMemoryLogRecordExporter();
    const loggers = new LoggerProvider({ processors: [new SimpleLogRecordProcessor(records)] });
    const spans = new InMemorySpanExporter();
    const tracers = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
    logs.setGlobalLoggerProvider(loggers);
    trace.setGlobalTracerProvider(tracers);
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    try {
      const lines: string[] = [];
      const push = (line: unknown) => void lines.push(String(line));
      const logger = createLogger({ log: push, warn: push, error: push }, { requestId: 'r-1', slug: 'acme' });
      trace.getTracer('test').startActiveSpan('activity', (span) => {
        logger.info('step done', { op: 'provision', step: 'vault', token: `bot${BOT_TOKEN}` });
        span.end();
      });
      const [record] = records.getFinishedLogRecords();
      expect(record!.body).toBe('step done');
      expect(record!.attributes).toEqual({
        requestId: 'r-1',
        slug: 'acme',
        op: 'provision',
        step: 'vault',
        token: 'bot[redacted]',
      });
      expect(spans.getFinishedSpans()[0]!.attributes).toEqual({
        requestId: 'r-1',
        slug: 'acme',
        op: 'provision',
        step: 'vault',
      });
      expect(lines).toHaveLength(1);
    } finally {
      logs.disable();
      trace.disable();
      context.disable();
    }
  });
});
