import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadHostJson } from '../../sandbox/host/hostConfig.js';

/**
 * The slug runner is started "if not running" and relies on a start of a running instance id being
 * refused (test/host/durableClient.test.ts shows the local host's 409). That is the extension's
 * default (NonRunningStates), but the setting exists, and AnyState would replace a running runner
 * and lose its queue position: host.json pins it, and the local host refuses any other value.
 */
describe('host.json: starting an instance id that exists', () => {
  it('pins overridableExistingInstanceStates to NonRunningStates', () => {
    const raw = JSON.parse(readFileSync('host.json', 'utf8')) as {
      extensions: { durableTask: Record<string, unknown> };
    };
    expect(raw.extensions.durableTask['overridableExistingInstanceStates']).toBe('NonRunningStates');
    expect(loadHostJson('host.json').durableTask.overridableExistingInstanceStates).toBe('NonRunningStates');
  });

  it('is refused by the local host when set to AnyState, which it does not implement', () => {
    expect(() =>
      loadHostJson({ extensions: { durableTask: { overridableExistingInstanceStates: 'AnyState' } } }),
    ).toThrow(/AnyState.*not supported/);
  });
});
