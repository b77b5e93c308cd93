import { describe, expect, it } from 'vitest';
import { driftOf } from '../../shared/azure/ensure.js';

/**
 * Drift is what the broker sent and a GET no longer shows: not the defaults, nulls and order a
 * real GET adds or loses. Shapes from the Microsoft.App 2025-07-01 spec (ContainerApps_Get.json,
 * x-ms-identifiers) and a real app's GET quoted in microsoft/azure-container-apps#1174.
 */
describe('drift between what the broker sent and what a GET answers', () => {
  it('ignores the defaults and nulls a GET adds for what was not sent', () => {
    const sent = { ingress: { external: true, targetPort: 8080, transport: 'auto' } };
    const read = {
      ingress: {
        external: true,
        targetPort: 8080,
        transport: 'Auto',
        exposedPort: 0,
        customDomains: null,
        ipSecurityRestrictions: null,
        fqdn: 'ca-acme.example',
      },
      dapr: null,
    };
    expect(driftOf(sent, read)).toEqual([]);
  });

  it('takes an empty list sent as equal to the missing or null list a GET may answer', () => {
    expect(driftOf({ scale: { rules: [] } }, { scale: { rules: null } })).toEqual([]);
    expect(driftOf({ scale: { rules: [] } }, { scale: {} })).toEqual([]);
    expect(driftOf({ scale: { rules: [] } }, { scale: { rules: [{ name: 'http' }] } })).toEqual([
      'scale.rules',
    ]);
  });

  it('matches secrets, env and probes by their identifying key, so another order is not drift, a changed item is', () => {
    const sent = {
      secrets: [
        { name: 'gateway-token', keyVaultUrl: 'https://kv/secrets/gateway-token' },
        { name: 'openclaw-config' },
      ],
      probes: [
        { type: 'Startup', failureThreshold: 10 },
        { type: 'Liveness', failureThreshold: 4 },
      ],
    };
    const reordered = {
      secrets: [
        { name: 'openclaw-config' },
        { name: 'gateway-token', keyVaultUrl: 'https://kv/secrets/gateway-token', identity: 'id' },
      ],
      probes: [
        { type: 'Liveness', failureThreshold: 4, timeoutSeconds: 1 },
        { type: 'Startup', failureThreshold: 10, timeoutSeconds: 1 },
      ],
    };
    expect(driftOf(sent, reordered)).toEqual([]);
    const changed = structuredClone(reordered);
    changed.secrets[1]!.keyVaultUrl = 'https://kv/secrets/other';
    expect(driftOf(sent, changed)).toEqual(['secrets[0].keyVaultUrl']);
    const missing = { ...reordered, secrets: [{ name: 'openclaw-config' }, { name: 'telegram-bot-token' }] };
    expect(driftOf(sent, missing)).toEqual(['secrets[0]']);
  });

  it('still compares lists without an identifying key element by element', () => {
    expect(
      driftOf(
        { traffic: [{ weight: 100, latestRevision: true }] },
        { traffic: [{ weight: 100, latestRevision: true }] },
      ),
    ).toEqual([]);
    expect(driftOf({ args: ['a', 'b'] }, { args: ['b', 'a'] })).toEqual(['args[0]', 'args[1]']);
  });
});
