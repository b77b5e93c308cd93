import { describe, expect, it } from 'vitest';
import type { GatewayReadiness } from '../../shared/azure/gatewayProbe.js';
import { loadConfig } from '../../shared/config.js';
import { footprintNames } from '../../shared/domain/footprint.js';
import { openClawVersionSupport } from '../../shared/openclaw/versions.js';
import type { StepInput } from '../../shared/provisioning/contracts.js';
import { stepContext, type ProvisionDependencies } from '../../shared/provisioning/steps/context.js';
import { readinessStep } from '../../shared/provisioning/steps/readiness.js';
import { testSettings } from '../support/settings.js';

/**
 * A named step runs alone: no simulator, no createProvisionSteps, only the dependencies it uses.
 * Azure, Entra and the registry throw when touched, so the readiness step is shown to read nothing
 * but the probe.
 */
const untouchable = <T>(name: string): T =>
  new Proxy(
    {},
    {
      get: (_target, key) => {
        throw new Error(`the readiness step touched ${name}.${String(key)}`);
      },
    },
  ) as T;

const config = loadConfig(testSettings());
const version = config.openclaw.defaultVersion;
const readyPath = openClawVersionSupport(version).probes.readiness;

function context(answer: GatewayReadiness) {
  const probed: string[] = [];
  const deps: ProvisionDependencies = {
    config,
    azure: untouchable('azure'),
    entra: untouchable('entra'),
    registry: untouchable('registry'),
    brokerPrincipalId: () => Promise.reject(new Error('the readiness step asked for the broker principal')),
    probe: (url) => {
      probed.push(url);
      return Promise.resolve(answer);
    },
  };
  return { ctx: stepContext(deps), probed };
}

function input(): StepInput {
  const names = footprintNames('alpha', { salt: config.nameSalt, incarnation: 1 });
  return {
    plan: {
      slug: 'alpha',
      requestId: 'req-alpha',
      incarnation: 1,
      names,
      location: config.azure.location,
      tenantId: config.azure.tenantId,
      openclawVersion: version,
      channels: [],
      allowedIdentities: [],
      owners: [],
    },
    facts: {
      containerApp: { id: 'app-id', fqdn: 'alpha.example.test', latestRevisionName: 'alpha--1' },
    },
  };
}

describe('readinessStep, alone', () => {
  it('is done with the probed URL when the gateway answers ready', async () => {
    const { ctx, probed } = context({ ready: true });
    const outcome = await readinessStep(ctx, input());
    const url = `https://alpha.example.test${readyPath}`;
    expect(probed).toEqual([url]);
    expect(outcome).toEqual({ status: 'done', value: { url }, changes: [] });
  });

  it('is "not yet" with the path and the probe\'s reason while the gateway starts', async () => {
    const { ctx } = context({ ready: false, reason: '503 startup-sidecars' });
    const outcome = await readinessStep(ctx, input());
    expect(outcome).toEqual({ status: 'not-yet', reason: `${readyPath} answered 503 startup-sidecars` });
  });
});
