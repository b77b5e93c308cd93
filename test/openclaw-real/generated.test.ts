import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GENERATED_FILE, renderGeneratedFile } from '../../sandbox/openclaw-real/generate.js';

describe('the data generated from the real OpenClaw releases', () => {
  it('is what the installed packages say (run `npm run openclaw:generate` after changing the pins)', async () => {
    expect(await renderGeneratedFile()).toBe(readFileSync(GENERATED_FILE, 'utf8'));
  });
});
