import { OWNERSHIP_TAG_VALUE, OWNERSHIP_TAGS } from '../domain/footprint.js';
import type { ContainerApp, EnvironmentVar, Secret } from '@azure/arm-appcontainers';
import type { FootprintNames } from '../domain/footprint.js';
import { BrokerError, ErrorCodes } from '../errors.js';
import type { RenderedNginxConfig } from './nginxConfig.js';
import { OPENCLAW_ENV, type OpenClawEnvName, type RenderedOpenClawConfig } from './renderConfig.js';
import { openClawVersionSupport } from './versions.js';

/**
 * The NGINX sidecar image: the official nginx image, stable 1.27 line, Alpine variant (small, has an
 * unprivileged `nginx` user, and its main config includes /etc/nginx/conf.d/*.conf, which is where
 * the broker mounts its rendered file). Pinned to a minor line; pass `nginxImage` with a digest (or
 * a copy imported into the broker's ACR, pulled with the app identity) to pin it fully and to avoid
 * Docker Hub's anonymous pull limits.
 */
export const DEFAULT_NGINX_IMAGE = 'docker.io/library/nginx:1.27-alpine';

/** Where the rendered openclaw.json is mounted (a read-only secret volume), outside the state share. */
export const OPENCLAW_CONFIG_DIR = '/etc/openclaw';
export const OPENCLAW_CONFIG_PATH = `${OPENCLAW_CONFIG_DIR}/openclaw.json`;
const NGINX_CONF_DIR = '/etc/nginx/conf.d';

/** Container Apps secret names (lowercase alphanumerics and hyphens). */
export const CONTAINER_APP_SECRETS = {
  gatewayToken: 'gateway-token',
  telegramBotToken: 'telegram-bot-token',
  telegramWebhookSecret: 'telegram-webhook-secret',
  teamsAppPassword: 'msteams-app-password',
  foundryApiKey: 'foundry-api-key',
  openclawConfig: 'openclaw-config',
  nginxConfig: 'nginx-config',
} as const;

/** The Key Vault secrets the app references; one per secret env var the rendered config uses. */
export interface ContainerAppKeyVaultSecrets {
  gatewayToken: string;
  telegramBotToken?: string;
  telegramWebhookSecret?: string;
  teamsAppPassword?: string;
  foundryApiKey?: string;
}

export interface ContainerAppSpecInput {
  names: FootprintNames;
  location: string;
  managedEnvironmentId: string;
  /** The slug's user-assigned identity: pulls from ACR and reads Key Vault. */
  identity: { id: string; clientId: string };
  /** The image registry the identity has AcrPull on (`<name>.azurecr.io`). */
  registryLoginServer: string;
  /** `repository` without tag (`ghcr.io/openclaw/openclaw` or `<acr>.azurecr.io/openclaw/openclaw`). */
  image: { repository: string; version: string; digest?: string };
  /** Versionless or versioned Key Vault secret URIs, never values. */
  keyVaultSecrets: ContainerAppKeyVaultSecrets;
  openclawConfig: RenderedOpenClawConfig;
  nginxConfig: RenderedNginxConfig;
  /** Plain (non-secret) Teams identifiers, required when the config turns Teams on. */
  teams?: { appId: string; tenantId: string };
  /** Defaults to DEFAULT_NGINX_IMAGE. */
  nginxImage?: string;
}

const SECRET_FOR_ENV: Partial<Record<OpenClawEnvName, keyof ContainerAppKeyVaultSecrets>> = {
  [OPENCLAW_ENV.gatewayToken]: 'gatewayToken',
  [OPENCLAW_ENV.telegramBotToken]: 'telegramBotToken',
  [OPENCLAW_ENV.telegramWebhookSecret]: 'telegramWebhookSecret',
  [OPENCLAW_ENV.teamsAppPassword]: 'teamsAppPassword',
  [OPENCLAW_ENV.foundryApiKey]: 'foundryApiKey',
};

// `https://<vault>.vault.azure.net/...` in Azure; any host (and port) of the vault's data plane, so
// sovereign clouds and the simulator (`https://127.0.0.1:<port>/...`) pass, as in config.ts.
const KEY_VAULT_SECRET_URI =
  /^https:\/\/[a-z0-9.-]+(:\d{1,5})?\/secrets\/[0-9A-Za-z-]{1,127}(\/[0-9a-f]{32})?$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const REPOSITORY = /^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)+$/;
const LOGIN_SERVER = /^[a-z0-9.-]+$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Builds the Container Apps resource body for one slug's gateway. Pure: no Azure calls.
 *
 * Config delivery: the rendered openclaw.json and nginx conf are carried as Container Apps secrets
 * with inline values and mounted as secret volumes (/etc/openclaw, /etc/nginx/conf.d). Both texts
 * hold no secret (only `${ENV}` references), so inline is safe. Because they are part of the
 * revision template, a config change makes a new revision, an upgrade ships the new version's
 * config with the new image in one step, and a rollback to the previous revision restores the
 * previous config: the config can never drift from the version it was rendered for. The state share
 * keeps only OpenClaw's own state. Consequence: the config file is read-only for OpenClaw (config
 * writes from chat are off in the rendered config; Control UI config edits fail).
 *
 * Invariants: exactly one replica (OpenClaw is a single writer over its state); single revision
 * mode; probes on the version's pinned paths and port; the state share mounted at the version's
 * state dir; ingress external on the NGINX port only; registry access by managed identity, never a
 * password; every secret value is either a Key Vault reference (`keyVaultUrl` + `identity`) or one
 * of the two rendered config files; every `${ENV}` the config references is supplied; tags carry the
 * slug and the broker's ownership tag. Throws a BrokerError (`BadRequest`) when an input is
 * malformed or a referenced secret has no Key Vault URI.
 */
export function buildContainerAppSpec(input: ContainerAppSpecInput): ContainerApp {
  const support = openClawVersionSupport(input.image.version);
  checkInputs(input);
  const identityId = input.identity.id;

  const keyVaultSecrets: Secret[] = [];
  const secretEnv: EnvironmentVar[] = [];
  const plainEnv: EnvironmentVar[] = [];
  for (const envName of input.openclawConfig.envVars) {
    const secretKey = SECRET_FOR_ENV[envName];
    if (secretKey !== undefined) {
      const uri = input.keyVaultSecrets[secretKey];
      if (uri === undefined) {
        throw new BrokerError(
          ErrorCodes.BadRequest,
          `openclaw.json references \${${envName}} but no Key Vault secret URI was given for ${secretKey}`,
        );
      }
      const name = CONTAINER_APP_SECRETS[secretKey];
      keyVaultSecrets.push({ name, keyVaultUrl: uri, identity: identityId });
      secretEnv.push({ name: envName, secretRef: name });
    } else if (envName === OPENCLAW_ENV.teamsAppId || envName === OPENCLAW_ENV.teamsTenantId) {
      if (!input.teams) {
        throw new BrokerError(
          ErrorCodes.BadRequest,
          `openclaw.json references \${${envName}} but no Teams identifiers were given`,
        );
      }
      plainEnv.push({
        name: envName,
        value: envName === OPENCLAW_ENV.teamsAppId ? input.teams.appId : input.teams.tenantId,
      });
    } else {
      throw new BrokerError(
        ErrorCodes.BadRequest,
        `openclaw.json references \${${envName}}, which the broker cannot supply`,
      );
    }
  }

  const image = `${input.image.repository}:${input.image.version}${input.image.digest ? `@${input.image.digest}` : ''}`;
  const gatewayPort = support.gatewayPort;

  return {
    location: input.location,
    tags: {
      [OWNERSHIP_TAGS.managedBy]: OWNERSHIP_TAG_VALUE,
      [OWNERSHIP_TAGS.slug]: input.names.slug,
    },
    identity: { type: 'UserAssigned', userAssignedIdentities: { [identityId]: {} } },
    managedEnvironmentId: input.managedEnvironmentId,
    configuration: {
      activeRevisionsMode: 'Single',
      maxInactiveRevisions: 5,
      ingress: {
        external: true,
        targetPort: input.nginxConfig.listenPort,
        transport: 'auto',
        allowInsecure: false,
        traffic: [{ latestRevision: true, weight: 100 }],
      },
      registries: [{ server: input.registryLoginServer, identity: identityId }],
      secrets: [
        ...keyVaultSecrets,
        { name: CONTAINER_APP_SECRETS.openclawConfig, value: input.openclawConfig.text },
        { name: CONTAINER_APP_SECRETS.nginxConfig, value: input.nginxConfig.text },
      ],
    },
    template: {
      terminationGracePeriodSeconds: 30,
      scale: { minReplicas: 1, maxReplicas: 1, rules: [] },
      containers: [
        {
          name: 'openclaw',
          image,
          resources: { cpu: 1, memory: '2Gi' },
          env: [
            { name: 'OPENCLAW_STATE_DIR', value: support.stateDir },
            { name: 'OPENCLAW_CONFIG_PATH', value: OPENCLAW_CONFIG_PATH },
            // For OpenClaw's own Azure credential lookups (Teams federated auth, Key Vault SecretRefs).
            { name: 'AZURE_CLIENT_ID', value: input.identity.clientId },
            ...plainEnv,
            ...secretEnv,
          ],
          volumeMounts: [
            { volumeName: 'openclaw-state', mountPath: support.stateDir },
            { volumeName: 'openclaw-config', mountPath: OPENCLAW_CONFIG_DIR },
          ],
          probes: [
            {
              type: 'Startup',
              // /startupz answers 200 only once the gateway's startup sidecars are up (503
              // `starting` before); a version without it falls back to liveness.
              httpGet: {
                path: support.probes.startup ?? support.probes.liveness,
                port: gatewayPort,
                scheme: 'HTTP',
              },
              // Up to 3 minutes to start (18 s x 10) while the state migrates. Container Apps
              // allows failureThreshold 1-10 and periodSeconds 1-240 (ContainerAppProbe, 2025-07-01):
              // the budget comes from the period, not from more failures.
              periodSeconds: 18,
              timeoutSeconds: 3,
              failureThreshold: 10,
            },
            {
              type: 'Liveness',
              httpGet: { path: support.probes.liveness, port: gatewayPort, scheme: 'HTTP' },
              periodSeconds: 15,
              timeoutSeconds: 5,
              failureThreshold: 4,
            },
            {
              type: 'Readiness',
              httpGet: { path: support.probes.readiness, port: gatewayPort, scheme: 'HTTP' },
              periodSeconds: 10,
              timeoutSeconds: 5,
              failureThreshold: 3,
              successThreshold: 1,
            },
          ],
        },
        {
          name: 'nginx',
          image: input.nginxImage ?? DEFAULT_NGINX_IMAGE,
          resources: { cpu: 0.25, memory: '0.5Gi' },
          volumeMounts: [{ volumeName: 'nginx-config', mountPath: NGINX_CONF_DIR }],
          probes: [
            {
              type: 'Liveness',
              tcpSocket: { port: input.nginxConfig.listenPort },
              periodSeconds: 15,
              failureThreshold: 4,
            },
          ],
        },
      ],
      volumes: [
        {
          name: 'openclaw-state',
          storageType: 'AzureFile',
          storageName: input.names.environmentStorage,
          // The image runs as `node` (uid/gid 1000); OpenClaw's audit flags a state dir others can
          // read or write. nobrl: SQLite's byte-range locks are not sent to the SMB server (one
          // replica is the only writer).
          mountOptions: 'uid=1000,gid=1000,dir_mode=0700,file_mode=0600,nobrl',
        },
        {
          name: 'openclaw-config',
          storageType: 'Secret',
          secrets: [{ secretRef: CONTAINER_APP_SECRETS.openclawConfig, path: 'openclaw.json' }],
        },
        {
          name: 'nginx-config',
          storageType: 'Secret',
          secrets: [{ secretRef: CONTAINER_APP_SECRETS.nginxConfig, path: 'default.conf' }],
        },
      ],
    },
  };
}

function checkInputs(input: ContainerAppSpecInput): void {
  const problems: string[] = [];
  if (!REPOSITORY.test(input.image.repository))
    problems.push(`image repository "${input.image.repository}" is malformed`);
  if (input.image.digest !== undefined && !DIGEST.test(input.image.digest)) {
    problems.push('image digest must be sha256:<64 hex>');
  }
  if (!LOGIN_SERVER.test(input.registryLoginServer)) problems.push('registryLoginServer must be a host name');
  if (
    !/^\/subscriptions\/.+\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/[^/]+$/i.test(
      input.identity.id,
    )
  ) {
    problems.push('identity.id must be a user-assigned identity resource id');
  }
  if (!GUID.test(input.identity.clientId)) problems.push('identity.clientId must be a GUID');
  if (
    !/^\/subscriptions\/.+\/providers\/Microsoft\.App\/managedEnvironments\/[^/]+$/i.test(
      input.managedEnvironmentId,
    )
  ) {
    problems.push('managedEnvironmentId must be a managed environment resource id');
  }
  for (const [name, uri] of Object.entries(input.keyVaultSecrets)) {
    if (typeof uri === 'string' && !KEY_VAULT_SECRET_URI.test(uri)) {
      problems.push(`keyVaultSecrets.${name} must be a Key Vault secret URI, never a value`);
    }
  }
  for (const [what, rendered] of [
    ['openclaw.json', input.openclawConfig],
    ['nginx config', input.nginxConfig],
  ] as const) {
    if (rendered.version !== input.image.version) {
      problems.push(
        `${what} was rendered for OpenClaw ${rendered.version}, the image is ${input.image.version}`,
      );
    }
  }
  if (input.nginxConfig.text.includes('${')) problems.push('the nginx config must not reference env vars');
  if (problems.length > 0) {
    throw new BrokerError(ErrorCodes.BadRequest, `container app spec: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
}
