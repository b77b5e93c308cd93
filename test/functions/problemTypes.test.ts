import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { problem } from '../../functions/api/problem.js';
import { ErrorCodes } from '../../shared/errors.js';

/** Every problem+json `type` links to an anchor that exists in the README's Error codes table. */
describe('problem+json types', () => {
  const readme = readFileSync('README.md', 'utf8');
  const anchors = new Set([...readme.matchAll(/<a id="(error-[a-z]+)"><\/a>/g)].map((match) => match[1]!));

  it.each(Object.values(ErrorCodes))('%s links to its row in the README', (code) => {
    const body = JSON.parse(problem(code, 'detail').body as string) as { type: string };
    const fragment = new URL(body.type).hash.slice(1);
    expect(anchors).toContain(fragment);
  });

  it('lists no code the broker does not have', () => {
    const known = new Set(Object.values(ErrorCodes).map((code) => `error-${code.toLowerCase()}`));
    expect([...anchors].filter((anchor) => !known.has(anchor))).toEqual([]);
  });
});
