import type { ContainerApp, Container } from '@azure/arm-appcontainers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createOpenClawSurface } from '../../../sandbox/sim/openclaw.js';
import {
  buildContainerAppSpec,
  configSecretNames,
  DEFAULT_NGINX_IMAGE,
  OPENCLAW_CONFIG_PATH,
  type ContainerAppSpecInput,
} from '../../../shared/openclaw/containerAppSpec.js';
import { renderNginxConfig } from '../../../shared/openclaw/nginxConfig.js';
import { renderOpenClawConfig, type OpenClawChannel } from '../../../shared/openclaw/renderConfig.js';
import {
  CLIENT_ID,
  ENVIRONMENT_ID,
  FOUNDRY,
  foundry,
  FQDN,
  IDENTITY_ID,
  KEY_VAULT_SECRETS,
  names,
  SECRET_VALUES,
  versionAndChannels,
} from './fixtures.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

/** No arguments: every channel and a Foundry model; `model` undefined means no model. */
function input(...args: [] | [string, OpenClawChannel[], typeof FOUNDRY | undefined]): ContainerAppSpecInput {
  const everything: [string, OpenClawChannel[], typeof FOUNDRY | undefined] = [
    '2026.9.6',
    ['telegram', 'teams'],
    FOUNDRY,
  ];
  const [v, wanted, model] = args.length === 0 ? everything : args;
  return {
    names,
    location: 'westeurope',
    managedEnvironmentId: ENVIRONMENT_ID,
    identity: { id: IDENTITY_ID, clientId: CLIENT_ID },
    registryLoginServer: 'crclawbroker.azurecr.io',
    image: { repository: 'ghcr.io/openclaw/openclaw', version: v, digest: DIGEST },
    keyVaultSecrets: KEY_VAULT_SECRETS,
    openclawConfig: renderOpenClawConfig({ version: v, appFqdn: FQDN, channels: wanted, foundry: model }),
    nginxConfig: renderNginxConfig({ version: v, channels: wanted }),
    teams: {
      appId: '99999999-8888-7777-6666-555555555555',
      tenantId: '44444444-3333-2222-1111-000000000000',
    },
  };
}

const containerNamed = (app: ContainerApp, name: string): Container => {
  const container = app.template?.containers?.find((candidate) => candidate.name === name);
  if (!container) throw new Error(`no container ${name}`);
  return container;
};

describe('buildContainerAppSpec', () => {
  it('runs exactly one replica in multiple revision mode (the broker stops a revision before it starts another)', () => {
    const app = buildContainerAppSpec(input());
    expect(app.template?.scale).toMatchObject({ minReplicas: 1, maxReplicas: 1 });
    expect(app.configuration?.activeRevisionsMode).toBe('Multiple');
  });

  it("probes the gateway on the version's pinned paths and port", () => {
    const gateway = containerNamed(buildContainerAppSpec(input()), 'openclaw');
    const probes = Object.fromEntries((gateway.probes ?? []).map((probe) => [probe.type, probe.httpGet]));
    expect(probes).toEqual({
      Startup: { path: '/startupz', port: 18789, scheme: 'HTTP' },
      Liveness: { path: '/healthz', port: 18789, scheme: 'HTTP' },
      Readiness: { path: '/readyz', port: 18789, scheme: 'HTTP' },
    });
  });

  it('mounts the Azure Files share registered on the environment at the state dir', () => {
    const app = buildContainerAppSpec(input());
    const gateway = containerNamed(app, 'openclaw');
    const mount = gateway.volumeMounts?.find((candidate) => candidate.mountPath === '/home/node/.openclaw');
    const volume = app.template?.volumes?.find((candidate) => candidate.name === mount?.volumeName);
    expect(volume).toMatchObject({ storageType: 'AzureFile', storageName: names.environmentStorage });
    expect(gateway.env).toContainEqual({ name: 'OPENCLAW_STATE_DIR', value: '/home/node/.openclaw' });
  });

  it('pulls from the registry with the managed identity, never a password', () => {
    const app = buildContainerAppSpec(input());
    expect(app.configuration?.registries).toEqual([
      { server: 'crclawbroker.azurecr.io', identity: IDENTITY_ID },
    ]);
    expect(app.identity).toEqual({ type: 'UserAssigned', userAssignedIdentities: { [IDENTITY_ID]: {} } });
  });

  it('holds no secret value anywhere: secrets are Key Vault references or the two rendered config files', () => {
    fc.assert(
      fc.property(versionAndChannels, foundry, ([v, wanted], model) => {
        const spec = input(v, wanted, model);
        const app = buildContainerAppSpec(spec);
        const body = JSON.stringify(app);
        for (const secret of Object.values(SECRET_VALUES)) expect(body).not.toContain(secret);
        for (const secret of app.configuration?.secrets ?? []) {
          if (secret.keyVaultUrl !== undefined) {
            expect(secret).toEqual({
              name: secret.name,
              keyVaultUrl: secret.keyVaultUrl,
              identity: IDENTITY_ID,
            });
          } else {
            expect([spec.openclawConfig.text, spec.nginxConfig.text]).toContain(secret.value);
          }
        }
        expect(body).not.toMatch(/passwordSecretRef|"username"/);
      }),
    );
  });

  it('references only the Key Vault secrets the enabled channels and model need', () => {
    const vaultSecretNames = (app: ContainerApp) =>
      (app.configuration?.secrets ?? []).filter((s) => s.keyVaultUrl).map((s) => s.name);
    expect(vaultSecretNames(buildContainerAppSpec(input('2026.8.2', [], undefined)))).toEqual([
      'gateway-token',
    ]);
    expect(vaultSecretNames(buildContainerAppSpec(input('2026.8.2', ['telegram'], undefined)))).toEqual([
      'gateway-token',
      'telegram-bot-token',
      'telegram-webhook-secret',
    ]);
  });

  it('feeds every env var the config references, the gateway token from its secret', () => {
    fc.assert(
      fc.property(versionAndChannels, foundry, ([v, wanted], model) => {
        const spec = input(v, wanted, model);
        const env = containerNamed(buildContainerAppSpec(spec), 'openclaw').env ?? [];
        for (const name of spec.openclawConfig.envVars)
          expect(env.map((variable) => variable.name)).toContain(name);
        expect(env).toContainEqual({ name: 'OPENCLAW_GATEWAY_TOKEN', secretRef: 'gateway-token' });
      }),
    );
  });

  it('mounts openclaw.json read-only from the revision and points OPENCLAW_CONFIG_PATH at it', () => {
    const spec = input();
    const app = buildContainerAppSpec(spec);
    const gateway = containerNamed(app, 'openclaw');
    expect(gateway.env).toContainEqual({ name: 'OPENCLAW_CONFIG_PATH', value: OPENCLAW_CONFIG_PATH });
    const volume = app.template?.volumes?.find((candidate) => candidate.name === 'openclaw-config');
    const secret = configSecretNames(spec.image.version).openclaw;
    expect(secret).toBe(`openclaw-config-${spec.image.version.replaceAll('.', '-')}`);
    expect(volume).toEqual({
      name: 'openclaw-config',
      storageType: 'Secret',
      secrets: [{ secretRef: secret, path: 'openclaw.json' }],
    });
    expect(gateway.volumeMounts).toContainEqual({
      volumeName: 'openclaw-config',
      mountPath: '/etc/openclaw',
    });
  });

  it('exposes only the NGINX sidecar on external ingress, with its conf.d file mounted', () => {
    const app = buildContainerAppSpec(input());
    expect(app.configuration?.ingress).toMatchObject({
      external: true,
      targetPort: 8080,
      allowInsecure: false,
    });
    const nginx = containerNamed(app, 'nginx');
    expect(nginx.image).toBe(DEFAULT_NGINX_IMAGE);
    expect(nginx.volumeMounts).toEqual([{ volumeName: 'nginx-config', mountPath: '/etc/nginx/conf.d' }]);
  });

  it('pins the OpenClaw image by version and digest', () => {
    const gateway = containerNamed(buildContainerAppSpec(input()), 'openclaw');
    expect(gateway.image).toBe(`ghcr.io/openclaw/openclaw:2026.9.6@${DIGEST}`);
  });

  it('tags the app with the slug and the ownership tag', () => {
    expect(buildContainerAppSpec(input()).tags).toEqual({
      'managed-by': 'claw-broker',
      'claw-broker-slug': 'acme',
    });
  });

  it('starts ready on the OpenClaw stand-in once its Key Vault references resolve', () => {
    fc.assert(
      fc.property(versionAndChannels, foundry, ([v, wanted], model) => {
        const app = buildContainerAppSpec(input(v, wanted, model));
        const secrets = new Map((app.configuration?.secrets ?? []).map((secret) => [secret.name, secret]));
        const byUri = new Map(
          Object.entries(KEY_VAULT_SECRETS).map(([key, uri]) => [
            uri,
            SECRET_VALUES[key as keyof typeof SECRET_VALUES],
          ]),
        );
        const gateway = containerNamed(app, 'openclaw');
        const env = Object.fromEntries(
          (gateway.env ?? []).map((variable) => [
            variable.name ?? '',
            variable.secretRef === undefined ? (variable.value ?? '') : `secretref:${variable.secretRef}`,
          ]),
        );
        const surface = createOpenClawSurface({
          clock: { now: () => 0 },
          getApp: () => ({
            image: gateway.image ?? '',
            env,
            configJson: secrets.get(configSecretNames(v).openclaw)?.value,
            running: true,
          }),
          resolveSecret: (ref) => byUri.get(secrets.get(ref.replace(/^secretref:/, ''))?.keyVaultUrl ?? ''),
        });
        expect(surface.readiness(names.containerApp)).toMatchObject({ ready: true, reasons: [] });
      }),
      { numRuns: 30 },
    );
  });

  it('refuses a config the Key Vault secrets do not cover', () => {
    const spec = input('2026.8.2', ['telegram'], undefined);
    const { telegramBotToken: _omitted, ...rest } = KEY_VAULT_SECRETS;
    expect(() => buildContainerAppSpec({ ...spec, keyVaultSecrets: rest })).toThrow(
      /references \$\{TELEGRAM_BOT_TOKEN\} but no Key Vault secret URI/,
    );
  });

  it('refuses a secret value passed where a Key Vault URI belongs, without echoing it', () => {
    const spec = {
      ...input(),
      keyVaultSecrets: { ...KEY_VAULT_SECRETS, gatewayToken: SECRET_VALUES.gatewayToken },
    };
    expect(() => buildContainerAppSpec(spec)).toThrow(
      /keyVaultSecrets.gatewayToken must be a Key Vault secret URI/,
    );
    expect(() => buildContainerAppSpec(spec)).toThrow(
      expect.objectContaining({
        message: expect.not.stringContaining(SECRET_VALUES.gatewayToken) as unknown,
      }) as Error,
    );
  });

  it('refuses configs rendered for another version than the image', () => {
    const spec = {
      ...input(),
      openclawConfig: input('2026.8.2', ['telegram'], FOUNDRY).openclawConfig,
    };
    expect(() => buildContainerAppSpec(spec)).toThrow(
      /rendered for OpenClaw 2026.8.2, the image is 2026.9.6/,
    );
  });

  it('refuses an image version the broker does not support', () => {
    const spec = input();
    expect(() => buildContainerAppSpec({ ...spec, image: { ...spec.image, version: '2026.1.1' } })).toThrow(
      /not supported/,
    );
  });
});
