import type { Change } from '../../azure/ensure.js';
import {
  BROKER_SECRET_DISPLAY_NAME,
  readRecorded,
  type EntraApplication,
  type OwnedObjectKind,
} from '../../azure/entra.js';
import { secretTags, secretUri, writeSecret } from '../../azure/keyVaultSecrets.js';
import { SLUG_SECRET_NAMES } from '../../domain/footprint.js';
import { BrokerError, ErrorCodes } from '../../errors.js';
import { entraObjectsOf, type EntraObjects } from '../../storage/environmentRegistry.js';
import type { StepInput } from '../contracts.js';
import { appFqdn, asProvisionOutcome, done, need, type StepContext } from './context.js';

/**
 * The slug's Entra objects: the app registration `claw-<slug>` (ID tokens with group claims,
 * the app's sign-in callback as redirect URI), its service principal, the group
 * `shire-<slug>`, and a client secret kept in the slug's vault (tagged with its key id).
 * Idempotent: each object is looked up by name first, and one found is adopted only when the
 * broker owns it in Entra (EntraClient.ownedBy); an app or group of that name that someone else owns fails
 * the step (ResourceNotOwned) before anything is created or changed. The broker creates the group
 * with itself as owner and adds itself as owner of the app it creates. The client secret is added
 * only when the vault holds none that the app still knows; client secrets the broker added
 * earlier but never stored (a crash between the two calls) are removed first, so they never
 * pile up.
 *
 * Entra is eventually consistent (isReplicationLag): for a while a fresh object is missing from
 * lookups by name and its owner reference from `ownedObjects`, and calls on it by id answer 404.
 * So each object's id is written to the registry (`entraObjects`) the moment it is created or
 * adopted, and later attempts read it by id, never by name again (no second app or group, no
 * "not owned" for the broker's own object); a 404 on it within the propagation timeout of its
 * creation, and any replication answer on a call, make the step "not yet".
 */
export function entraStep(ctx: StepContext, input: StepInput) {
  const { deps, config, registry, pollMs, slugVault } = ctx;
  return asProvisionOutcome(async () => {
    const { plan } = input;
    const { names } = plan;
    const vault = slugVault(input);
    const vaultUri = need(input, 'keyVault').vaultUri;
    const redirectUri = `https://${appFqdn(input)}/.auth/login/aad/callback`;
    const changes: Change[] = [];
    const brokerId = await deps.brokerPrincipalId();
    let objects: EntraObjects = entraObjectsOf(await registry.get(plan.slug), plan.incarnation) ?? {
      incarnation: plan.incarnation,
    };
    const remember = async (next: EntraObjects) => {
      objects = next;
      await registry.update(plan.slug, (record) => (record ? { ...record, entraObjects: next } : undefined));
    };
    /**
     * The object this incarnation recorded, read by id (a 404 soon after its creation is
     * replication; later, it was deleted and the name is looked up again); otherwise the one of
     * that name, adopted only when the broker owns it.
     */
    const resolve = async <T extends { id: string }>(
      kind: OwnedObjectKind,
      name: string,
      entry: { id: string; at: string } | undefined,
      read: (id: string) => Promise<T | undefined>,
      find: () => Promise<T | undefined>,
    ): Promise<{ found: T | undefined; recorded: boolean }> => {
      const recorded = await readRecorded(kind, entry, read, config.provisioning.propagationTimeoutMs);
      if (recorded) return { found: recorded, recorded: true };
      const found = await find();
      if (found && !(await deps.entra.ownedBy(brokerId, found.id))) {
        throw notOwned(kind, name, found.id, brokerId);
      }
      return { found, recorded: false };
    };

    const resolvedApp = await resolve(
      'application',
      names.entraApplication,
      objects.application,
      (id) => deps.entra.getApplication(id),
      () => deps.entra.findApplication(names.entraApplication),
    );
    let app: EntraApplication | undefined = resolvedApp.found;
    const appRecorded = resolvedApp.recorded;
    const resolvedGroup = await resolve(
      'group',
      names.entraGroup,
      objects.group,
      (id) => deps.entra.getGroup(id),
      () => deps.entra.findGroup(names.entraGroup),
    );
    let group = resolvedGroup.found;
    const groupRecorded = resolvedGroup.recorded;
    const stored = await secretTags(vault, SLUG_SECRET_NAMES.entraClientSecret);

    const body = {
      displayName: names.entraApplication,
      signInAudience: 'AzureADMyOrg' as const,
      groupMembershipClaims: 'SecurityGroup' as const,
      web: { redirectUris: [redirectUri], implicitGrantSettings: { enableIdTokenIssuance: true } },
    };
    const appChange = {
      resource: `Entra application ${names.entraApplication}`,
      action: 'created' as const,
    };
    const groupChange = { resource: `Entra group ${names.entraGroup}`, action: 'created' as const };
    if (!app) {
      app = await deps.entra.createApplication(body);
      const at = new Date().toISOString();
      await remember({
        ...objects,
        application: { id: app.id, at, createdBy: plan.requestId, ownerAdded: false },
      });
      changes.push(appChange);
    } else {
      if (!appRecorded) {
        await remember({
          ...objects,
          application: { id: app.id, at: new Date().toISOString(), ownerAdded: true },
        });
      } else if (objects.application?.createdBy === plan.requestId) {
        changes.push(appChange); // An earlier attempt of this request created it.
      }
      if (!app.redirectUris.includes(redirectUri)) {
        await deps.entra.updateApplication(app.id, {
          web: { ...body.web, redirectUris: [...app.redirectUris, redirectUri] },
        });
        changes.push({
          resource: `Entra application ${names.entraApplication}`,
          action: 'updated',
          fields: ['web.redirectUris'],
        });
      }
    }
    if (objects.application && !objects.application.ownerAdded) {
      // False when Graph already had it (a tenant may make the creator an owner by itself).
      await deps.entra.addApplicationOwner(app.id, brokerId);
      await remember({ ...objects, application: { ...objects.application, ownerAdded: true } });
    }
    if (!(await deps.entra.findServicePrincipal(app.appId))) {
      if (await deps.entra.createServicePrincipal(app.appId)) {
        changes.push({ resource: `service principal of ${names.entraApplication}`, action: 'created' });
      }
    }
    if (!group) {
      group = await deps.entra.createGroup(
        names.entraGroup,
        `Users of the OpenClaw environment ${plan.slug}`,
        brokerId,
      );
      const at = new Date().toISOString();
      await remember({ ...objects, group: { id: group.id, at, createdBy: plan.requestId } });
      changes.push(groupChange);
    } else if (!groupRecorded) {
      await remember({ ...objects, group: { id: group.id, at: new Date().toISOString() } });
    } else if (objects.group?.createdBy === plan.requestId) {
      changes.push(groupChange); // An earlier attempt of this request created it.
    }
    const storedKeyId = stored?.['keyId'];
    const secretKnown = app.passwordCredentials.some((credential) => credential.keyId === storedKeyId);
    if (!secretKnown) {
      for (const orphan of app.passwordCredentials.filter(
        (c) => c.displayName === BROKER_SECRET_DISPLAY_NAME,
      )) {
        await deps.entra.removePassword(app.id, orphan.keyId);
      }
      const password = await deps.entra.addPassword(app.id, BROKER_SECRET_DISPLAY_NAME);
      await writeSecret(
        vault,
        SLUG_SECRET_NAMES.entraClientSecret,
        password.secretText,
        { keyId: password.keyId },
        pollMs,
      );
      await registry.update(plan.slug, (record) =>
        record
          ? {
              ...record,
              secretAges: { ...record.secretAges, 'entra-client-secret': new Date().toISOString() },
            }
          : undefined,
      );
      changes.push({ resource: `client secret of ${names.entraApplication}`, action: 'created' });
    }
    if (objects.application?.createdBy !== undefined || objects.group?.createdBy !== undefined) {
      // Reported as created once, in this outcome; a later run adopts them.
      await remember({
        incarnation: objects.incarnation,
        application: objects.application && { ...objects.application, createdBy: undefined },
        group: objects.group && { ...objects.group, createdBy: undefined },
      });
    }
    return done(
      {
        appId: app.appId,
        objectId: app.id,
        groupId: group.id,
        clientSecretUri: secretUri(vaultUri, SLUG_SECRET_NAMES.entraClientSecret),
      },
      changes,
    );
  });
}

/** The definitive failure for an Entra object of the footprint's name that the broker does not own. */
function notOwned(kind: OwnedObjectKind, name: string, id: string, brokerId: string): BrokerError {
  return new BrokerError(
    ErrorCodes.ResourceNotOwned,
    `Entra ${kind} ${name} exists but is not owned by claw-broker (object id ${id}; the broker is ${brokerId}): rename or remove it, or add the broker as an owner`,
  );
}
