import type { FileShareStore } from './fileShareStore.js';
import { createGraphSurface, externalPrincipalOf, type GraphSurfaceOptions } from './graph.js';
import {
  createOpenClawSurface,
  openclawVersionOfImage,
  SIMULATED_STATE_SCHEMA_PATH,
  startGatewayOnState,
  type OpenClawSurface,
  type OpenClawSurfaceOptions,
} from './openclaw.js';
import { startSimulator, type Simulator, type StartSimulatorOptions } from './simulator.js';
import type { SimSurface } from './surface.js';
import { createTelegramSurface, type TelegramSurface, type TelegramSurfaceOptions } from './telegram.js';
import { createTelegramAdminSurface } from './telegramAdmin.js';
import { createNpmRegistrySurface, type NpmRegistrySurface } from './npmRegistry.js';
import { createOciRegistrySurface, type OciRegistrySurface } from './ociRegistry.js';
import { SUPPORTED_OPENCLAW_VERSIONS } from '../../shared/openclaw/versions.js';
import { parseOpenClawVersion } from '../../shared/domain/openclawVersion.js';

export { startSimulator, type Simulator, type StartSimulatorOptions } from './simulator.js';
export { trustSimulatorCertificate } from './trustSimulatorCertificate.js';
export type { FaultSpec } from './faults.js';
export { stateFileFormat, stateFileVersion, type SimulatorStateFile } from './persistence.js';

/** The audience the Graph stand-in accepts besides the simulator's own /graph URL. */
export const graphAudience = 'https://graph.microsoft.com';

export interface FullSimulatorOptions extends StartSimulatorOptions {
  /** Mounts the Telegram Bot API at /telegram/ when given. */
  telegram?: Omit<TelegramSurfaceOptions, 'clock'>;
  /** Microsoft Graph at /graph/v1.0/; tokens are checked against the simulator's tenant. */
  graph?: Omit<GraphSurfaceOptions, 'clock' | 'tenantId' | 'verifyToken'>;
  /** The OpenClaw gateway stand-in at /openclaw/{app}/, fed from Container Apps state. */
  openclaw?: Omit<OpenClawSurfaceOptions, 'clock' | 'getApp' | 'listApps'>;
}

export interface FullSimulator extends Simulator {
  telegram?: SimSurface;
  graph: SimSurface;
  openclaw: OpenClawSurface;
  /**
   * Files on Azure Files shares: the Files data plane (primaryEndpoints.file) serves them, the
   * OpenClaw stand-in reads them, tests may write them directly.
   */
  files: FileShareStore;
  /** npm's registry at /npm/ (the `openclaw` package's versions and publish times). */
  npm: NpmRegistrySurface;
  /** The OCI distribution API at /oci/ (`openclaw/openclaw` tags and digests). */
  oci: OciRegistrySurface;
}

/** The repository the OCI stand-in serves the gateway's images under (IMAGE_REPOSITORY's path). */
export const SIM_OPENCLAW_REPOSITORY = 'openclaw/openclaw';

/**
 * Every supported version, published on npm and pushed as an image. The stand-in's own choice of
 * publish time (no real one is recorded here): noon UTC on day PATCH of the version's month, so
 * `2026.9.6` was published 2026-09-06T12:00:00Z; tests set their own where the time matters.
 */
function seedRegistries(npm: NpmRegistrySurface, oci: OciRegistrySurface): void {
  for (const version of SUPPORTED_OPENCLAW_VERSIONS) {
    const parsed = parseOpenClawVersion(version);
    if (!parsed) continue;
    const day = Math.min(Math.max(parsed.patch, 1), 28);
    npm.publish(version, new Date(Date.UTC(parsed.year, parsed.month - 1, day, 12)));
    oci.push(SIM_OPENCLAW_REPOSITORY, version);
  }
}

/**
 * Starts the whole simulator: the Azure core plus Telegram, Graph and the OpenClaw gateway
 * stand-in. OpenClaw sees each container app as the platform runs it: image, env with Key Vault
 * references resolved to the values the app holds, running state, and openclaw.json from the share
 * mounted at the state dir.
 */
export async function startFullSimulator(options: FullSimulatorOptions = {}): Promise<FullSimulator> {
  let graph: SimSurface | undefined;
  let openclaw: OpenClawSurface | undefined;
  let npm: NpmRegistrySurface | undefined;
  let oci: OciRegistrySurface | undefined;
  let telegram: SimSurface | undefined;
  const sim = await startSimulator({
    ...options,
    surfaces: [
      ...(options.surfaces ?? []),
      (context) => {
        npm = createNpmRegistrySurface({ clock: context.clock });
        return npm;
      },
      (context) => {
        oci = createOciRegistrySurface({ clock: context.clock });
        seedRegistries(npm!, oci);
        return oci;
      },
      (context) => {
        graph = createGraphSurface({
          ...options.graph,
          clock: context.clock,
          tenantId: context.identity.tenantId,
          // The principals that sign in (the broker among them) are directory objects to Graph too.
          externalPrincipal: (id) => externalPrincipalOf(context.identity.get(id)),
          verifyToken: (authorization) => {
            const result = context.identity.authenticate({ authorization });
            if (!result) return undefined;
            const audience = result.claims.aud.replace(/\/+$/, '');
            return audience === graphAudience || audience === `${context.baseUrl()}/graph`
              ? { id: result.principal.objectId }
              : undefined;
          },
        });
        return graph;
      },
      (context) => {
        // The stand-in decides whether a gateway container starts: it migrates the state on the
        // share forward, or refuses newer state and exits 78 (a crash loop). Real gateways
        // (`backend`) do that themselves.
        if (!options.openclaw?.backend)
          context.arm.containerStarter = (_replica, { app, template }) => {
            const images = (Array.isArray(template['containers']) ? template['containers'] : []).map(
              (raw) => {
                const image = (raw as { image?: unknown }).image;
                return typeof image === 'string' ? image : '';
              },
            );
            const image =
              images.find((candidate) => openclawVersionOfImage(candidate) !== undefined) ?? images[0];
            const version =
              image === undefined
                ? undefined
                : openclawVersionOfImage(image, options.openclaw?.versionOfImage);
            const share = version === undefined ? undefined : stateShareOf(context.arm, app.id, template);
            if (version === undefined || !share) return { state: 'running' };
            return startGatewayOnState({
              version,
              ...(options.openclaw?.stateSchemaOf ? { stateSchemaOf: options.openclaw.stateSchemaOf } : {}),
              readMarker: () => context.files.read(share.account, share.share, SIMULATED_STATE_SCHEMA_PATH),
              writeMarker: (content) =>
                context.files.write(share.account, share.share, SIMULATED_STATE_SCHEMA_PATH, content),
            });
          };
        openclaw = createOpenClawSurface({
          ...options.openclaw,
          clock: context.clock,
          listApps: () => context.arm.listContainerApps().map((app) => String(app['name'])),
          getApp: (appName) => {
            const runtime = context.containerApp(appName);
            if (!runtime) return undefined;
            const configJson =
              configFromSecretVolume(context.arm, runtime.id, runtime.volumes) ??
              readMountedConfig(
                context.arm,
                runtime.id,
                runtime.env['OPENCLAW_STATE_DIR'] ?? '/home/node/.openclaw',
                context.files,
              );
            return {
              image: runtime.image,
              env: runtime.env,
              running: runtime.running,
              ...(runtime.replica?.failure !== undefined ? { startFailure: runtime.replica.failure } : {}),
              ...(configJson !== undefined ? { configJson } : {}),
            };
          },
        });
        return openclaw;
      },
      ...(options.telegram
        ? [
            (context: { clock: Simulator['clock'] }) => {
              telegram = createTelegramSurface({ ...options.telegram!, clock: context.clock });
              return telegram;
            },
            () => createTelegramAdminSurface(telegram as TelegramSurface),
          ]
        : []),
    ],
  });
  return {
    ...sim,
    graph: graph!,
    openclaw: openclaw!,
    npm: npm!,
    oci: oci!,
    ...(telegram ? { telegram } : {}),
  };
}

/**
 * The broker delivers openclaw.json as a Container Apps secret mounted as a secret volume (the
 * secret the `openclaw-config` volume of the running revision names, read through
 * OPENCLAW_CONFIG_PATH); older layouts kept it on the share.
 */
function configFromSecretVolume(
  arm: Simulator['arm'],
  appId: string,
  volumes: readonly unknown[],
): string | undefined {
  // The running revision's `openclaw-config` volume names the secret (one per version).
  const volume = volumes.find(
    (candidate): candidate is { name: string; secrets?: { secretRef?: string }[] } =>
      typeof candidate === 'object' &&
      candidate !== null &&
      (candidate as { name?: unknown }).name === 'openclaw-config',
  );
  const secretName = volume?.secrets?.[0]?.secretRef ?? 'openclaw-config';
  const secrets = (arm.get(appId)?.hidden['secrets'] ?? []) as { name: string; value?: string }[];
  return secrets.find((secret) => secret.name === secretName)?.value;
}

/** Finds the Azure Files share mounted at `stateDir` in the app and reads openclaw.json from it. */
function readMountedConfig(
  arm: Simulator['arm'],
  appId: string,
  stateDir: string,
  files: FileShareStore,
): string | undefined {
  const app = arm.getResource(appId);
  const properties = (app?.['properties'] ?? {}) as Record<string, unknown>;
  const template = (properties['template'] ?? {}) as {
    volumes?: { name?: string; storageName?: string }[];
    containers?: { volumeMounts?: { volumeName?: string; mountPath?: string }[] }[];
  };
  const mount = template.containers?.[0]?.volumeMounts?.find((candidate) => candidate.mountPath === stateDir);
  const volume = template.volumes?.find((candidate) => candidate.name === mount?.volumeName);
  const environmentId =
    typeof properties['managedEnvironmentId'] === 'string' ? properties['managedEnvironmentId'] : undefined;
  if (!volume?.storageName || !environmentId) return undefined;
  const storage = arm.getResource(`${environmentId}/storages/${volume.storageName}`);
  const azureFile = (
    (storage?.['properties'] ?? {}) as { azureFile?: { accountName?: string; shareName?: string } }
  ).azureFile;
  if (!azureFile?.accountName || !azureFile.shareName) return undefined;
  return files.read(azureFile.accountName, azureFile.shareName, 'openclaw.json');
}

/** The state share of the container app named `appName` (its template's mount at the state dir). */
export function appStateShare(
  arm: Simulator['arm'],
  appName: string,
): { account: string; share: string } | undefined {
  const app = arm
    .listContainerApps()
    .find((candidate) => String(candidate['name']).toLowerCase() === appName.toLowerCase());
  if (!app) return undefined;
  const template = ((app['properties'] ?? {}) as { template?: Record<string, unknown> }).template ?? {};
  return stateShareOf(arm, String(app['id']), template);
}

/**
 * The Azure Files share a revision template mounts at the gateway's state dir (OPENCLAW_STATE_DIR of
 * its OpenClaw container, the image default /home/node/.openclaw otherwise).
 */
function stateShareOf(
  arm: Simulator['arm'],
  appId: string,
  template: Record<string, unknown>,
): { account: string; share: string } | undefined {
  const { containers = [], volumes = [] } = template as {
    volumes?: { name?: string; storageName?: string }[];
    containers?: {
      image?: string;
      env?: { name?: string; value?: string }[];
      volumeMounts?: { volumeName?: string; mountPath?: string }[];
    }[];
  };
  const container =
    containers.find((candidate) => openclawVersionOfImage(String(candidate.image ?? '')) !== undefined) ??
    containers[0];
  const stateDir =
    container?.env?.find((variable) => variable.name === 'OPENCLAW_STATE_DIR')?.value ??
    '/home/node/.openclaw';
  const mount = container?.volumeMounts?.find((candidate) => candidate.mountPath === stateDir);
  const volume = volumes.find((candidate) => candidate.name === mount?.volumeName);
  const properties = (arm.getResource(appId)?.['properties'] ?? {}) as Record<string, unknown>;
  const environmentId =
    typeof properties['managedEnvironmentId'] === 'string' ? properties['managedEnvironmentId'] : undefined;
  if (!volume?.storageName || !environmentId) return undefined;
  const storage = arm.getResource(`${environmentId}/storages/${volume.storageName}`);
  const azureFile = (
    (storage?.['properties'] ?? {}) as { azureFile?: { accountName?: string; shareName?: string } }
  ).azureFile;
  return azureFile?.accountName && azureFile.shareName
    ? { account: azureFile.accountName, share: azureFile.shareName }
    : undefined;
}
