import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * scripts/check-graph-permissions.sh (azd's postprovision hook) against an `az` that answers as
 * Microsoft Graph would: Graph's service principal with its app roles, and the broker's
 * assignments. The script's logic only; the real `az` answers are checked on a first deployment.
 */
const permissions = (
  JSON.parse(readFileSync('infra/graphPermissions.json', 'utf8')) as { permissions: { name: string }[] }
).permissions.map((p) => p.name);
const roleId = (name: string) =>
  `00000000-0000-0000-0000-${String(permissions.indexOf(name) + 1).padStart(12, '0')}`;
const bin = mkdtempSync(path.join(tmpdir(), 'fake-az-'));

afterAll(() => rmSync(bin, { recursive: true, force: true }));

function run(held: string[]): { code: number; out: string } {
  const roles = [...permissions, 'User.Read.All'].map((name) => `${name}\t${roleId(name)}`).join('\n');
  writeFileSync(
    path.join(bin, 'az'),
    `#!/usr/bin/env bash
case "$*" in
  *"appRoles[]"*) printf '%s\\n' "${roles}" ;;
  "ad sp show"*) echo graph-sp-id ;;
  "rest "*) printf '%s\\n' ${held.map(roleId).join(' ')} ;;
  *) echo "unexpected az $*" >&2; exit 9 ;;
esac
`,
  );
  chmodSync(path.join(bin, 'az'), 0o755);
  try {
    const out = execFileSync('bash', ['scripts/check-graph-permissions.sh'], {
      env: { ...process.env, PATH: `${bin}:${process.env['PATH']}`, BROKER_PRINCIPAL_ID: 'broker-oid' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { code: 0, out };
  } catch (error) {
    const failed = error as { status: number; stdout: string; stderr: string };
    return { code: failed.status, out: failed.stdout + failed.stderr };
  }
}

describe('scripts/check-graph-permissions.sh', () => {
  it('passes when the broker holds every permission of infra/graphPermissions.json', () => {
    const result = run(permissions);
    expect(result.code).toBe(0);
    expect(result.out).toContain('holds every Graph permission it needs');
  });

  it('names each missing permission and how to grant it, and fails', () => {
    const result = run(permissions.filter((name) => name !== 'Group.Create' && name !== 'Group.Read.All'));
    expect(result.code).toBe(1);
    expect(result.out).toContain('  - Group.Create\n  - Group.Read.All\n');
    expect(result.out).not.toContain('  - Application.ReadWrite.OwnedBy');
    expect(result.out).toContain('appRoleAssignments');
  });

  it('says so when it does not know the broker', () => {
    const result = execFileSync(
      'bash',
      ['-c', 'BROKER_PRINCIPAL_ID= scripts/check-graph-permissions.sh; echo "exit $?"'],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    expect(result).toContain('exit 2');
  });
});
