import { randomBytes } from 'node:crypto';
import { ShareServiceClient, StorageSharedKeyCredential } from '@azure/storage-file-share';
import { statusOf } from '../azure/azureErrors.js';
import { BROKER_SECRET_DISPLAY_NAME } from '../azure/entra.js';
import { gatewayProbeUrl } from '../azure/gatewayProbe.js';
import { AUTH_SECRET_NAME, SLUG_SECRET_NAMES } from '../domain/footprint.js';
import { openClawVersionSupport } from '../openclaw/versions.js';
import { maintenanceTarget, notMaintainable, type MaintenanceDependencies } from '../maintenance/target.js';
import { appSecretValue, reapplySecretReferences } from '../maintenance/appDelivery.js';
import {
  type EntraAddInput,
  type EntraRetireInput,
  type EntraVerifyInput,
  type FlagSecretInput,
  type GatewayVerifyInput,
  type GatewayWriteInput,
  type RecordRotationInput,
  type RecordSkipInput,
  type RetireVersionsInput,
  type RotationItem,
  type RotationPlan,
  type RotationPlanInput,
  type RotationSkip,
  type StorageMoveInput,
  type StorageRegenerateInput,
  type StorageVerifyInput,
} from './contracts.js';
import { askGatewayWithToken } from './gatewayAuth.js';
import {
  disableOlderVersions,
  latestVersion,
  readVersion,
  writeVersion,
} from '../maintenance/keyVaultVersions.js';
import { dueSecrets, rotationPolicy, ROTATABLE_SECRETS } from '../maintenance/rotationPolicy.js';
import {
  type StepOutcome,
  asStepOutcome,
  done,
  notYet,
  preconditionFailed,
  skipped,
} from '../operations/outcome.js';
import {
  MAINTENANCE_TAGS,
  type DeliverInput,
  type DeliverOutput,
  type MaintenanceTarget,
  type RotatableSecret,
  type StorageKeyName,
} from '../maintenance/contracts.js';

/** Starts a detached orchestration; 'exists' when an instance of that id already runs. */
export type OrchestrationStarter = (
  name: string,
  instanceId: string,
  input: unknown,
) => Promise<'started' | 'exists'>;

const STORAGE_KEYS: readonly StorageKeyName[] = ['key1', 'key2'];
const DAY_MS = 86_400_000;

/** 32 random bytes, hex: the gateway token's form (as provisioning generates it). */
function newGatewayToken(): string {
  return randomBytes(32).toString('hex');
}

const short = (version: string | undefined) => (version ? version.slice(0, 8) : 'none');

/**
 * The secret rotation steps, each safe to run twice and guarded by what its plan found (a Key
 * Vault version, a key name and creation time, an Entra key id), so a duplicate or late step can
 * neither rotate twice nor undo a newer rotation. Activities in functions/rotationActivities.ts
 * call these; orchestrations/rotateSecrets.ts decides the order.
 */
export function createRotationSteps(deps: MaintenanceDependencies) {
  const { azure, config, registry } = deps;
  const pollIntervalMs = config.azure.lroPollIntervalMs;
  const policy = rotationPolicy(config);
  const vaultOf = (target: MaintenanceTarget) => azure.secrets(target.vaultUri);
  const fetchImpl = deps.fetch ?? globalThis.fetch;

  const gatewayUrl = (target: MaintenanceTarget, path: string) =>
    gatewayProbeUrl(
      config.openclaw.gatewayUrlTemplate,
      { fqdn: target.fqdn, name: target.containerApp },
      path,
    );
  const readiness = async (target: MaintenanceTarget): Promise<string | undefined> => {
    const path = openClawVersionSupport(target.openclawVersion).probes.readiness;
    const answer = await deps.probe(gatewayUrl(target, path));
    return answer.ready ? undefined : `the gateway's ${path} answered ${answer.reason}`;
  };

  async function accountKeys(target: MaintenanceTarget) {
    const listed = await azure.storage.storageAccounts.listKeys(target.resourceGroup, target.storageAccount);
    const keys = new Map<StorageKeyName, { value: string; createdAt: string }>();
    for (const key of listed.keys ?? []) {
      const name = key.keyName?.toLowerCase() as StorageKeyName | undefined;
      if (name && STORAGE_KEYS.includes(name) && key.value) {
        keys.set(name, { value: key.value, createdAt: key.creationTime?.toISOString() ?? '' });
      }
    }
    return keys;
  }

  async function planItem(
    target: MaintenanceTarget,
    kind: RotatableSecret,
  ): Promise<RotationItem | RotationSkip> {
    const vault = vaultOf(target);
    switch (kind) {
      case 'gateway-token': {
        const current = await latestVersion(vault, SLUG_SECRET_NAMES.gatewayToken);
        if (!current) return { kind, reason: 'the slug vault holds no gateway token' };
        return { kind, fromVersion: current.version };
      }
      case 'storage-key': {
        const stored = await latestVersion(vault, SLUG_SECRET_NAMES.storageKey);
        if (!stored) return { kind, reason: 'the slug vault holds no storage account key' };
        const keys = await accountKeys(target);
        const inUse = STORAGE_KEYS.find((name) => keys.get(name)?.value === stored.value);
        if (!inUse) {
          return {
            kind,
            reason:
              'the stored storage key matches neither account key; nothing was rotated (provision the slug again to repair its consumers)',
          };
        }
        const toKey: StorageKeyName = inUse === 'key1' ? 'key2' : 'key1';
        return { kind, fromKey: inUse, toKey, fromKeyCreatedAt: keys.get(inUse)!.createdAt };
      }
      case 'entra-client-secret': {
        const stored = await latestVersion(vault, SLUG_SECRET_NAMES.entraClientSecret);
        const keyId = stored?.tags[MAINTENANCE_TAGS.keyId];
        if (!stored || !keyId) return { kind, reason: 'the slug vault holds no Entra client secret' };
        const app = await deps.entra.findApplication(target.entraApplication);
        if (!app) return { kind, reason: `no Entra application ${target.entraApplication}` };
        return { kind, applicationId: app.id, fromKeyId: keyId };
      }
    }
  }

  return {
    /**
     * Decides what this request rotates: the secrets it names, or else those due by policy; each
     * only when it was not set after the request was made (a late or duplicate request is then
     * satisfied by the newer rotation). Reads the state each later step is guarded by. Reads only.
     */
    async plan(input: RotationPlanInput): Promise<RotationPlan> {
      const { request } = input;
      const record = await registry.get(request.slug);
      const blocked = notMaintainable(record, request.slug);
      if (blocked || !record) return { status: 'refused', reason: blocked ?? 'no environment' };
      const now = new Date(input.now);
      const requestedAt = Date.parse(request.requestedAt);
      const skips: RotationSkip[] = [];
      const explicit = request.params.secrets;
      const due = dueSecrets(record, now, policy);
      const kinds = explicit ?? due.map((item) => item.kind);
      if (!explicit && kinds.length === 0) {
        return { status: 'refused', reason: `nothing is due for ${request.slug} at ${input.now}` };
      }
      const target = await maintenanceTarget(azure, config, record, request.requestId);
      const items: RotationItem[] = [];
      for (const kind of kinds) {
        const setAt = record.secretAges[kind];
        if (setAt && Date.parse(setAt) > requestedAt) {
          skips.push({
            kind,
            reason: `already rotated at ${setAt}, after this request was made (${request.requestedAt})`,
          });
          continue;
        }
        if ((ROTATABLE_SECRETS as readonly string[]).includes(kind)) {
          const item = await planItem(target, kind as RotatableSecret);
          if ('reason' in item) skips.push(item);
          else items.push(item);
        } else if (kind === 'telegram-bot-token' && setAt) {
          items.push({ kind, setAt });
        }
      }
      if (items.length === 0) {
        return {
          status: 'refused',
          reason: skips.map((skip) => `${skip.kind}: ${skip.reason}`).join('; ') || 'nothing to rotate',
        };
      }
      return {
        status: 'planned',
        target,
        timing: {
          verifyIntervalMs: config.rotation.verifyIntervalMs,
          verifyTimeoutMs: config.rotation.verifyTimeoutMs,
        },
        entraGraceMs: config.rotation.entraSecretGraceMs,
        items,
        skipped: skips,
      };
    },

    /**
     * Writes a new gateway token (32 random bytes, hex) as a new Key Vault version, only while the
     * latest version is still the one planned. Safe to run twice: a latest version written by this
     * request is its own earlier write, returned as it is.
     */
    gatewayWrite: (input: GatewayWriteInput) =>
      asStepOutcome(async () => {
        const { target } = input;
        const vault = vaultOf(target);
        const current = await latestVersion(vault, SLUG_SECRET_NAMES.gatewayToken);
        if (!current) throw preconditionFailed('the gateway token is gone from the slug vault');
        if (current.version !== input.fromVersion) {
          if (current.tags[MAINTENANCE_TAGS.request] === target.requestId) {
            return done({ toVersion: current.version });
          }
          throw preconditionFailed(
            `gateway-token is at version ${short(current.version)} (${current.createdOn ?? 'unknown time'}), not ${short(input.fromVersion)} as planned: a newer rotation happened; nothing changed`,
          );
        }
        const toVersion = await writeVersion(vault, SLUG_SECRET_NAMES.gatewayToken, newGatewayToken(), {
          tags: { [MAINTENANCE_TAGS.request]: target.requestId, [MAINTENANCE_TAGS.issuedAt]: input.now },
          pollIntervalMs,
        });
        return done({ toVersion });
      }),

    /**
     * Makes the app take its Key Vault references now (set again, then the active revision
     * restarted when asked), only while the vault still holds what the plan delivers: a newer
     * rotation means this (late) step is refused and leaves the app alone. Safe to run twice: a
     * second pass sets the same references again.
     */
    deliver: (input: DeliverInput) =>
      asStepOutcome<DeliverOutput>(async () => {
        const { target, expect } = input;
        const vault = vaultOf(target);
        if (expect.kind === 'secret-version') {
          const current = await latestVersion(vault, expect.secretName);
          if (current?.version !== expect.version) {
            throw preconditionFailed(
              `${expect.secretName} is at version ${short(current?.version)}, not ${short(expect.version)}: a newer one exists; the app was left alone`,
            );
          }
        } else if (expect.kind === 'entra-key') {
          const current = await latestVersion(vault, SLUG_SECRET_NAMES.entraClientSecret);
          if (current?.tags[MAINTENANCE_TAGS.keyId] !== expect.keyId) {
            throw preconditionFailed(
              'the stored Entra client secret is not the one this rotation added; the app was left alone',
            );
          }
        } else {
          const current = await latestVersion(vault, SLUG_SECRET_NAMES.storageKey);
          if (current?.tags[MAINTENANCE_TAGS.keyName] !== expect.keyName) {
            throw preconditionFailed(
              `the stored storage key is not ${expect.keyName} as this rotation left it; the app was left alone`,
            );
          }
        }
        const applied = await reapplySecretReferences(azure, {
          resourceGroup: target.resourceGroup,
          appName: target.containerApp,
          vaultUri: target.vaultUri,
          restart: input.restart,
          ensureReference: input.ensureReference,
        });
        return done({ revision: applied.revision, restarted: applied.restarted });
      }),

    /**
     * Checks that the gateway is ready, accepts the new token and refuses the old one, through its
     * admin RPC. "Not yet" while it restarts or still holds the old value. Reads only.
     */
    gatewayVerify: (input: GatewayVerifyInput) =>
      asStepOutcome(async () => {
        const { target } = input;
        const vault = vaultOf(target);
        const fresh = await readVersion(vault, SLUG_SECRET_NAMES.gatewayToken, input.toVersion);
        if (!fresh) throw preconditionFailed('the new gateway token version is gone');
        const notReady = await readiness(target);
        if (notReady) return notYet(notReady);
        const rpcPath = openClawVersionSupport(target.openclawVersion).adminRpcPath;
        if (!rpcPath) throw preconditionFailed(`OpenClaw ${target.openclawVersion} has no admin RPC plugin`);
        const rpc = gatewayUrl(target, rpcPath);
        const withNew = await askGatewayWithToken(rpc, fresh.value, fetchImpl);
        if (withNew.answer === 'unavailable') return notYet(`the gateway's admin RPC: ${withNew.reason}`);
        if (withNew.answer === 'refused') return notYet('the gateway still refuses the new token');
        // Undefined once disabled: nothing can present it any more.
        const old = await readVersion(vault, SLUG_SECRET_NAMES.gatewayToken, input.fromVersion);
        if (old) {
          const withOld = await askGatewayWithToken(rpc, old.value, fetchImpl);
          if (withOld.answer === 'accepted') return notYet('the gateway still accepts the old token');
          if (withOld.answer === 'unavailable') return notYet(`the gateway's admin RPC: ${withOld.reason}`);
        }
        return done({});
      }),

    /**
     * Disables every enabled version older than the one the app now uses, only while that one is
     * still the latest. Safe to run twice: disabled versions stay disabled.
     */
    retireVersions: (input: RetireVersionsInput) =>
      asStepOutcome(async () => {
        const vault = vaultOf(input.target);
        const current = await latestVersion(vault, input.secretName);
        if (current?.version !== input.keepVersion) {
          throw preconditionFailed(
            `${input.secretName} is at version ${short(current?.version)}, not ${short(input.keepVersion)}: the newer rotation retires what it replaced`,
          );
        }
        return done({ disabled: await disableOlderVersions(vault, input.secretName, input.keepVersion) });
      }),

    /**
     * Moves every consumer of the storage account key to the standby key: first the environment's
     * file share registration, then the stored secret (a new version tagged with the key's name),
     * so a stored secret naming the standby key implies the share registration uses it too. Only
     * while the stored secret still holds the planned key (or already the standby one: a second
     * run). The key in use is not touched.
     */
    storageMove: (input: StorageMoveInput) =>
      asStepOutcome(async () => {
        const { target } = input;
        const vault = vaultOf(target);
        const [keys, stored] = await Promise.all([
          accountKeys(target),
          latestVersion(vault, SLUG_SECRET_NAMES.storageKey),
        ]);
        const standby = keys.get(input.toKey);
        const inUse = keys.get(input.fromKey);
        if (!standby || !inUse)
          throw new Error(`storage account ${target.storageAccount} listed no ${input.toKey}`);
        if (stored?.value === standby.value && stored.tags[MAINTENANCE_TAGS.keyName] === input.toKey) {
          return done({ moved: false });
        }
        if (stored?.value !== inUse.value) {
          throw preconditionFailed(
            `the stored storage key is no longer ${input.fromKey} as planned: a newer rotation happened; nothing changed`,
          );
        }
        await azure.containerApps.managedEnvironmentsStorages.createOrUpdate(
          target.resourceGroup,
          target.managedEnvironment,
          target.environmentStorage,
          {
            properties: {
              azureFile: {
                accountName: target.storageAccount,
                shareName: target.stateFileShare,
                accessMode: 'ReadWrite',
                accountKey: standby.value,
              },
            },
          },
        );
        await writeVersion(vault, SLUG_SECRET_NAMES.storageKey, standby.value, {
          tags: { [MAINTENANCE_TAGS.keyName]: input.toKey, [MAINTENANCE_TAGS.request]: target.requestId },
          pollIntervalMs,
        });
        return done({ moved: true });
      }),

    /**
     * Confirms the move: the gateway is ready after its restart (it mounted the share again) and
     * the key now in use opens the state share (one Azure Files call signed with it). Reads only.
     */
    storageVerify: (input: StorageVerifyInput) =>
      asStepOutcome(async () => {
        const { target } = input;
        const stored = await latestVersion(vaultOf(target), SLUG_SECRET_NAMES.storageKey);
        if (stored?.tags[MAINTENANCE_TAGS.keyName] !== input.toKey) {
          throw preconditionFailed(`the stored storage key is not ${input.toKey}: a newer rotation happened`);
        }
        const notReady = await readiness(target);
        if (notReady) return notYet(notReady);
        const account = await azure.storage.storageAccounts.getProperties(
          target.resourceGroup,
          target.storageAccount,
        );
        const endpoint = account.primaryEndpoints?.file;
        if (!endpoint) throw new Error(`storage account ${target.storageAccount} has no file endpoint`);
        const share = new ShareServiceClient(
          endpoint,
          new StorageSharedKeyCredential(target.storageAccount, stored.value),
        ).getShareClient(target.stateFileShare);
        try {
          await share.getProperties();
        } catch (error) {
          if (statusOf(error) === 403) return notYet(`the state share refuses ${input.toKey} (403)`);
          throw error;
        }
        return done({});
      }),

    /**
     * Regenerates the key that was in use before the move, only when every consumer is on the other
     * key: the stored secret must hold the standby key's current value and name, and must not hold
     * the key about to be regenerated. Never regenerates the key in use. Safe to run twice: a key
     * whose creation time moved since the plan was regenerated already and is left alone.
     */
    storageRegenerate: (input: StorageRegenerateInput) =>
      asStepOutcome(async () => {
        const { target } = input;
        const [keys, stored] = await Promise.all([
          accountKeys(target),
          latestVersion(vaultOf(target), SLUG_SECRET_NAMES.storageKey),
        ]);
        const old = keys.get(input.fromKey);
        const standby = keys.get(input.toKey);
        if (!old || !standby) throw new Error(`storage account ${target.storageAccount} listed no keys`);
        if (Date.parse(old.createdAt) !== Date.parse(input.fromKeyCreatedAt)) {
          return done({ regenerated: false });
        }
        if (
          !stored ||
          stored.value === old.value ||
          stored.value !== standby.value ||
          stored.tags[MAINTENANCE_TAGS.keyName] !== input.toKey
        ) {
          throw preconditionFailed(
            `${input.fromKey} is still (or again) the key in use; it was not regenerated`,
          );
        }
        await azure.storage.storageAccounts.regenerateKey(target.resourceGroup, target.storageAccount, {
          keyName: input.fromKey,
        });
        return done({ regenerated: true });
      }),

    /**
     * Adds a new Entra client secret and stores it (tagged with its key id and the one it
     * replaces), only while the stored secret is still the planned one. Client secrets the broker
     * added but never stored (a crash between the two calls) are removed first, so none pile up.
     * A tenant that forbids client secrets makes the step "skipped" with the reason. Safe to run
     * twice: a stored secret written by this request is returned as it is.
     */
    entraAdd: (input: EntraAddInput) =>
      asStepOutcome(async () => {
        const { target } = input;
        const vault = vaultOf(target);
        const stored = await latestVersion(vault, SLUG_SECRET_NAMES.entraClientSecret);
        const storedKeyId = stored?.tags[MAINTENANCE_TAGS.keyId];
        if (!stored || !storedKeyId) throw preconditionFailed('the stored Entra client secret is gone');
        if (storedKeyId !== input.fromKeyId) {
          if (stored.tags[MAINTENANCE_TAGS.request] === target.requestId) {
            return done({ toKeyId: storedKeyId });
          }
          throw preconditionFailed(
            'the stored Entra client secret is not the one planned: a newer rotation happened; nothing changed',
          );
        }
        const app = await deps.entra.findApplication(target.entraApplication);
        if (app?.id !== input.applicationId) {
          throw preconditionFailed(`the Entra application ${target.entraApplication} changed since planning`);
        }
        const keep = new Set([storedKeyId, stored.tags[MAINTENANCE_TAGS.previousKeyId]]);
        for (const orphan of app.passwordCredentials) {
          if (orphan.displayName === BROKER_SECRET_DISPLAY_NAME && !keep.has(orphan.keyId)) {
            await deps.entra.removePassword(app.id, orphan.keyId);
          }
        }
        let password: { keyId: string; secretText: string };
        try {
          password = await deps.entra.addPassword(app.id, BROKER_SECRET_DISPLAY_NAME);
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          if (
            error instanceof Error &&
            error.name === 'GraphError' &&
            code === 'CredentialTypeNotAllowedAsPerAppPolicy'
          ) {
            return skipped(
              "the tenant's app management policy forbids client secrets (CredentialTypeNotAllowedAsPerAppPolicy); the current secret stays in use until it expires; give the application a certificate or federated credential instead",
            );
          }
          throw error;
        }
        await writeVersion(vault, SLUG_SECRET_NAMES.entraClientSecret, password.secretText, {
          tags: {
            [MAINTENANCE_TAGS.keyId]: password.keyId,
            [MAINTENANCE_TAGS.previousKeyId]: storedKeyId,
            [MAINTENANCE_TAGS.request]: target.requestId,
          },
          pollIntervalMs,
        });
        return done({ toKeyId: password.keyId });
      }),

    /**
     * Confirms the switch: Entra lists the new client secret, the app's built-in auth holds the
     * stored value (compared in this process; only the outcome leaves) and the gateway is ready.
     */
    entraVerify: (input: EntraVerifyInput) =>
      asStepOutcome(async () => {
        const { target } = input;
        const stored = await latestVersion(vaultOf(target), SLUG_SECRET_NAMES.entraClientSecret);
        if (stored?.tags[MAINTENANCE_TAGS.keyId] !== input.toKeyId) {
          throw preconditionFailed('the stored Entra client secret is not the one this rotation added');
        }
        const app = await deps.entra.findApplication(target.entraApplication);
        if (!app?.passwordCredentials.some((credential) => credential.keyId === input.toKeyId)) {
          return notYet('Entra does not list the new client secret yet');
        }
        const notReady = await readiness(target);
        if (notReady) return notYet(notReady);
        // When listSecrets shows the value, it must be the new one; when it does not (undocumented
        // for Key Vault references), the delivery step's successful PATCH after the write is the proof.
        const holds = await appSecretValue(azure, {
          resourceGroup: target.resourceGroup,
          appName: target.containerApp,
          appSecretName: AUTH_SECRET_NAME,
          expected: stored.value,
        });
        if (holds === 'differs')
          return notYet("the app's built-in auth does not hold the new client secret yet");
        return done({});
      }),

    /**
     * Removes a replaced Entra client secret once its grace period is over, never the one stored
     * (in use). Safe to run twice: a secret already gone is fine.
     */
    entraRemove: (input: EntraRetireInput) =>
      asStepOutcome(async () => {
        const stored = await latestVersion(vaultOf(input.target), SLUG_SECRET_NAMES.entraClientSecret);
        if (stored?.tags[MAINTENANCE_TAGS.keyId] === input.keyId) {
          throw preconditionFailed('the client secret to retire is the one in use; it was kept');
        }
        const app = await deps.entra.findApplication(input.target.entraApplication);
        if (app?.id !== input.applicationId) return done({ removed: false });
        if (!app.passwordCredentials.some((credential) => credential.keyId === input.keyId)) {
          return done({ removed: false });
        }
        await deps.entra.removePassword(app.id, input.keyId);
        return done({ removed: true });
      }),

    /**
     * Bot tokens cannot be rotated by API: flags the token's age on the registry record and tells
     * the admin chat, once per age (a token flagged since it was last set is not flagged again).
     * At least once: a crash between the message and the flag sends the message again.
     */
    flagSecret: (input: FlagSecretInput) =>
      asStepOutcome(async () => {
        const { target } = input;
        const record = await registry.get(target.slug);
        const flaggedAt = record?.maintenance?.flags?.[input.kind]?.flaggedAt;
        if (flaggedAt && Date.parse(flaggedAt) >= Date.parse(input.setAt)) return done({ told: false });
        const ageDays = Math.floor((Date.parse(input.now) - Date.parse(input.setAt)) / DAY_MS);
        const policyDays = Math.round(policy.maxAgeMs[input.kind] / DAY_MS);
        const reason = `set ${ageDays} days ago (policy: ${policyDays} days); bot tokens cannot be rotated by API`;
        await deps.chat.tell(
          `claw-broker: the ${input.kind} of ${target.slug} was ${reason}. Ask BotFather for a new token (/revoke), then provision ${target.slug} again with it.`,
        );
        await registry.update(target.slug, (current) =>
          current
            ? {
                ...current,
                maintenance: {
                  ...current.maintenance,
                  flags: { ...current.maintenance?.flags, [input.kind]: { flaggedAt: input.now, reason } },
                },
              }
            : undefined,
        );
        return done({ told: true });
      }),

    /** Records a finished rotation's time (and the storage key in use). Sets values, only forward. */
    async recordRotation(input: RecordRotationInput): Promise<void> {
      await registry.update(input.target.slug, (current) => {
        if (!current) return undefined;
        const previous = current.secretAges[input.kind];
        const skippedKinds = { ...current.maintenance?.skipped };
        delete skippedKinds[input.kind];
        return {
          ...current,
          secretAges:
            previous && Date.parse(previous) >= Date.parse(input.now)
              ? current.secretAges
              : { ...current.secretAges, [input.kind]: input.now },
          maintenance: {
            ...current.maintenance,
            skipped: skippedKinds,
            ...(input.storageKeyInUse ? { storageKeyInUse: input.storageKeyInUse } : {}),
          },
        };
      });
    },

    /** Records why a secret was skipped (a tenant policy), so sweeps look again a policy period later. */
    async recordSkip(input: RecordSkipInput): Promise<void> {
      await registry.update(input.target.slug, (current) =>
        current
          ? {
              ...current,
              maintenance: {
                ...current.maintenance,
                skipped: {
                  ...current.maintenance?.skipped,
                  [input.kind]: { at: input.now, reason: input.reason },
                },
              },
            }
          : undefined,
      );
    },
  };
}

export type RotationSteps = ReturnType<typeof createRotationSteps>;

/** The detached orchestration that removes a replaced Entra client secret after its grace. */
export function entraRetireInstanceId(slug: string, keyId: string): string {
  return `entra-retire:${slug}:${keyId}`;
}

export type { StepOutcome };
