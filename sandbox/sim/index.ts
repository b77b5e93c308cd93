import type { FileShareStore } from './fileShareStore.js';
import { createGraphSurface, externalPrincipalOf, type GraphSurfaceOptions } from './graph.js';
import { createOpenClawSurface, type OpenClawSurface, type OpenClawSurfaceOptions } from './openclaw.js';
import { startSimulator, type Simulator, type StartSimulatorOptions } from './simulator.js';
import type { SimSurface } from './surface.js';
import { createTelegramSurface, type TelegramSurface, type TelegramSurfaceOptions } from './telegram.js';
import { createTelegramAdminSurface } from './telegramAdmin.js';

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
  let telegram: SimSurface | undefined;
  const sim = await startSimulator({
    ...options,
    surfaces: [
      ...(options.surfaces ?? []),
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
  return { ...sim, graph: graph!, openclaw: openclaw!, ...(telegram ? { telegram } : {}) };
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
