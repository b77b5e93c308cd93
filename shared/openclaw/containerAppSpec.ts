import { OWNERSHIP_TAG_VALUE, OWNERSHIP_TAGS } from '../domain/footprint.js';
import type { Container, ContainerApp, EnvironmentVar, Secret } from '@azure/arm-appcontainers';
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
} as const;

/** The secret volumes the rendered config files are mounted from. */
export const CONFIG_VOLUMES = { openclaw: 'openclaw-config', nginx: 'nginx-config' } as const;

/**
 * The Container Apps secrets that carry one version's rendered config files. One pair per version:
 * secrets belong to the app, not to a revision, so a shared name would give the previous revision
 * the new version's config the moment an upgrade wrote it, and a rollback could not return to the
 * config the previous version ran with.
 */
export function configSecretNames(version: string): { openclaw: string; nginx: string } {
  const suffix = version.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  return { openclaw: `openclaw-config-${suffix}`, nginx: `nginx-config-${suffix}` };
}

/** Whether an app secret is one of the rendered config files (of any version). */
export function isConfigSecret(name: string): boolean {
  return /^(?:openclaw|nginx)-config(?:-[a-z0-9-]+)?$/.test(name);
}

/** `<repository>:<version>` or, with a digest, `<repository>:<version>@<digest>` (deployed by digest). */
export function imageReference(image: {
  repository: string;
  version: string;
  digest?: string | undefined;
}): string {
  return `${image.repository}:${image.version}${image.digest ? `@${image.digest}` : ''}`;
}

/** The gateway container's probes for `version`: its own paths on its own port. */
export function gatewayProbes(version: string): NonNullable<Container['probes']> {
  const support = openClawVersionSupport(version);
  const port = support.gatewayPort;
  return [
    {
      type: 'Startup',
      httpGet: { path: support.probes.startup ?? support.probes.liveness, port, scheme: 'HTTP' },
      periodSeconds: 18,
      timeoutSeconds: 3,
      failureThreshold: 10,
    },
    {
      type: 'Liveness',
      httpGet: { path: support.probes.liveness, port, scheme: 'HTTP' },
      periodSeconds: 15,
      timeoutSeconds: 5,
      failureThreshold: 4,
    },
    {
      type: 'Readiness',
      httpGet: { path: support.probes.readiness, port, scheme: 'HTTP' },
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 3,
      successThreshold: 1,
    },
  ];
}

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

  const image = imageReference(input.image);
  const configSecrets = configSecretNames(input.image.version);

  return {
    location: input.location,
    tags: {
      [OWNERSHIP_TAGS.managedBy]: OWNERSHIP_TAG_VALUE,
      [OWNERSHIP_TAGS.slug]: input.names.slug,
    },
    identity: { type: 'UserAssigned', userAssignedIdentities: { [identityId]: {} } },
    managedEnvironmentId: input.managedEnvironmentId,
    configuration: {
      // Multiple revision mode: the broker decides which revision runs, and stops the old one
      // before a new one starts (shared/azure/revisions.ts). In single mode Container Apps would
      // keep the old revision running until the new one is ready: two writers on one share.
      activeRevisionsMode: 'Multiple',
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
        { name: configSecrets.openclaw, value: input.openclawConfig.text },
        { name: configSecrets.nginx, value: input.nginxConfig.text },
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
            { volumeName: CONFIG_VOLUMES.openclaw, mountPath: OPENCLAW_CONFIG_DIR },
          ],
          probes: gatewayProbes(input.image.version),
        },
        {
          name: 'nginx',
          image: input.nginxImage ?? DEFAULT_NGINX_IMAGE,
          resources: { cpu: 0.25, memory: '0.5Gi' },
          volumeMounts: [{ volumeName: CONFIG_VOLUMES.nginx, mountPath: NGINX_CONF_DIR }],
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
          name: CONFIG_VOLUMES.openclaw,
          storageType: 'Secret',
          secrets: [{ secretRef: configSecrets.openclaw, path: 'openclaw.json' }],
        },
        {
          name: CONFIG_VOLUMES.nginx,
          storageType: 'Secret',
          secrets: [{ secretRef: configSecrets.nginx, path: 'default.conf' }],
        },
      ],
    },
  };
}

function checkInputs(input: ContainerAppSpecInput): void {
  const problems = imageAndConfigProblems(input.image, input.openclawConfig, input.nginxConfig);
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
  throwProblems(problems);
}

function throwProblems(problems: string[]): void {
  if (problems.length > 0) {
    throw new BrokerError(ErrorCodes.BadRequest, `container app spec: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
}

function imageAndConfigProblems(
  image: ContainerAppSpecInput['image'],
  openclawConfig: RenderedOpenClawConfig,
  nginxConfig: RenderedNginxConfig,
): string[] {
  const problems: string[] = [];
  if (!REPOSITORY.test(image.repository))
    problems.push(`image repository "${image.repository}" is malformed`);
  if (image.digest !== undefined && !DIGEST.test(image.digest)) {
    problems.push('image digest must be sha256:<64 hex>');
  }
  for (const [what, rendered] of [
    ['openclaw.json', openclawConfig],
    ['nginx config', nginxConfig],
  ] as const) {
    if (rendered.version !== image.version) {
      problems.push(`${what} was rendered for OpenClaw ${rendered.version}, the image is ${image.version}`);
    }
  }
  if (nginxConfig.text.includes('${')) problems.push('the nginx config must not reference env vars');
  return problems;
}

export interface RetargetInput {
  /** The app as ARM returns it (GET): no secret values. */
  live: ContainerApp;
  /** The values of the app's inline secrets (the rendered config files), from listSecrets. */
  inlineValues: ReadonlyMap<string, string>;
  image: { repository: string; version: string; digest: string };
  openclawConfig: RenderedOpenClawConfig;
  nginxConfig: RenderedNginxConfig;
  /** The config secrets the revision a rollback would return to mounts: kept, never rewritten. */
  keepSecrets: readonly string[];
  /** Names the new revision (`<app>--<suffix>`), so a retried write finds it instead of making another. */
  revisionSuffix: string;
}

/**
 * The body that moves a live app to another OpenClaw version: the same app (identity, Key Vault
 * references, registries, sidecar, env the broker delivered) with the version's image by digest,
 * its rendered config in its own secrets, its state dir and its probes, under a named revision.
 * Config secrets of versions no revision to return to uses are dropped. Pure.
 *
 * Throws a BrokerError (`PreconditionFailed`) when the target's config references an env var the
 * app does not supply (a secret the slug never had): that needs provisioning, not an upgrade.
 */
export function retargetContainerApp(input: RetargetInput): ContainerApp {
  const { live, image } = input;
  const support = openClawVersionSupport(image.version);
  throwProblems(imageAndConfigProblems(image, input.openclawConfig, input.nginxConfig));
  const names = configSecretNames(image.version);
  const keep = new Set([...input.keepSecrets, names.openclaw, names.nginx]);
  const secrets: Secret[] = [];
  for (const secret of live.configuration?.secrets ?? []) {
    const name = secret.name ?? '';
    if (secret.keyVaultUrl) {
      secrets.push({ name, keyVaultUrl: secret.keyVaultUrl, identity: secret.identity });
      continue;
    }
    if (name === names.openclaw || name === names.nginx) continue;
    if (isConfigSecret(name) && !keep.has(name)) continue;
    const value = input.inlineValues.get(name);
    if (value === undefined) {
      throw new BrokerError(
        ErrorCodes.PreconditionFailed,
        `container app ${live.name ?? ''}: no value for its inline secret ${name}`,
      );
    }
    secrets.push({ name, value });
  }
  secrets.push({ name: names.openclaw, value: input.openclawConfig.text });
  secrets.push({ name: names.nginx, value: input.nginxConfig.text });

  const template = structuredClone(live.template ?? {});
  const containers = template.containers ?? [];
  const gateway = containers[0];
  if (!gateway) {
    throw new BrokerError(
      ErrorCodes.PreconditionFailed,
      `container app ${live.name ?? ''} has no containers`,
    );
  }
  const supplied = new Set((gateway.env ?? []).map((variable) => variable.name));
  const missing = input.openclawConfig.envVars.filter((name) => !supplied.has(name));
  if (missing.length > 0) {
    throw new BrokerError(
      ErrorCodes.PreconditionFailed,
      `OpenClaw ${image.version}'s config references ${missing.map((name) => `\${${name}}`).join(', ')}, which the app does not supply; provision the slug again first`,
    );
  }
  gateway.image = imageReference(image);
  gateway.env = (gateway.env ?? []).map((variable) =>
    variable.name === 'OPENCLAW_STATE_DIR' ? { name: variable.name, value: support.stateDir } : variable,
  );
  gateway.volumeMounts = (gateway.volumeMounts ?? []).map((mount) =>
    mount.volumeName === 'openclaw-state' ? { ...mount, mountPath: support.stateDir } : mount,
  );
  gateway.probes = gatewayProbes(image.version);
  template.volumes = (template.volumes ?? []).map((volume) => {
    if (volume.name === CONFIG_VOLUMES.openclaw)
      return { ...volume, secrets: [{ secretRef: names.openclaw, path: 'openclaw.json' }] };
    if (volume.name === CONFIG_VOLUMES.nginx)
      return { ...volume, secrets: [{ secretRef: names.nginx, path: 'default.conf' }] };
    return volume;
  });
  template.revisionSuffix = input.revisionSuffix;

  const configuration = live.configuration ?? {};
  return {
    location: live.location,
    tags: live.tags,
    identity: live.identity,
    managedEnvironmentId: live.managedEnvironmentId,
    configuration: {
      ...configuration,
      activeRevisionsMode: 'Multiple',
      secrets,
      ...(configuration.ingress
        ? {
            ingress: {
              ...configuration.ingress,
              targetPort: input.nginxConfig.listenPort,
              traffic: [{ latestRevision: true, weight: 100 }],
            },
          }
        : {}),
    },
    template,
  };
}
