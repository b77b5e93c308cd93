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
});
