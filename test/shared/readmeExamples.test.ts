import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validateLifecycleRequest } from '../../shared/requests/parseLifecycleRequest.js';

/**
 * The lifecycle requests the README shows are requests the broker takes: valid by the schema, and a
 * provision that names a channel brings what that channel needs (a Telegram slug needs its staged
 * bot token, which a hand-written queue message cannot have, so the example uses Teams).
 */
describe("the README's lifecycle request examples", () => {
  const readme = readFileSync('README.md', 'utf8');
  const examples = [...readme.matchAll(/```json\n([\s\S]*?)```/g)]
    .map((match) => match[1]!)
    .filter((text) => text.includes('"schemaVersion"'));

  it('exist', () => {
    expect(examples.length).toBeGreaterThan(0);
  });

  it.each(examples.map((text, index) => [index, text]))('example %i is valid and complete', (_, text) => {
    const parsed = validateLifecycleRequest(JSON.parse(String(text)));
    expect(parsed.ok, JSON.stringify(parsed)).toBe(true);
    if (!parsed.ok || parsed.request.op !== 'provision') return;
    if (parsed.request.params.channels.includes('telegram'))
      expect(parsed.request.params.telegramBotToken).toBeDefined();
  });
});
