import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The README's one step that makes `claw-broker` a command anywhere: `npm link` in the checkout.
 * Done here into a throwaway npm prefix (npm_config_prefix), then run from another directory by
 * its bare name, as the README's inline commands write it.
 */
const prefix = mkdtempSync(path.join(tmpdir(), 'claw-link-'));
afterAll(() => rmSync(prefix, { recursive: true, force: true }));

describe('npm link', () => {
  it('puts claw-broker on PATH, and it runs outside the repository', () => {
    const env = { ...process.env, npm_config_prefix: prefix };
    execFileSync('npm', ['link', '--no-audit', '--no-fund'], { env, stdio: 'pipe' });
    const version = execFileSync('claw-broker', ['--version'], {
      cwd: tmpdir(),
      env: { ...env, PATH: `${path.join(prefix, 'bin')}${path.delimiter}${process.env['PATH']}` },
      encoding: 'utf8',
    });
    const expected = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
    expect(version.trim()).toBe(expected);
  });
});
