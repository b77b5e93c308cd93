import { randomBytes } from 'node:crypto';
import { SLUG_SECRET_NAMES } from '../../domain/footprint.js';
import { MAINTENANCE_TAGS } from '../../maintenance/contracts.js';
import {
  disableOlderVersions,
  latestVersion,
  readVersion,
  shortVersion as short,
  writeVersion,
} from '../../maintenance/keyVaultVersions.js';
import { openClawVersionSupport } from '../../openclaw/versions.js';
import { asStepOutcome, done, notYet, preconditionFailed } from '../../operations/outcome.js';
import type { GatewayVerifyInput, GatewayWriteInput, RetireVersionsInput } from '../contracts.js';
import { askGatewayWithToken } from '../gatewayAuth.js';
import type { RotationContext } from './context.js';

/** 32 random bytes, hex: the gateway token's form (as provisioning generates it). */
function newGatewayToken(): string {
  return randomBytes(32).toString('hex');
}

/**
 * Writes a new gateway token (32 random bytes, hex) as a new Key Vault version, only while the
 * latest version is still the one planned. Safe to run twice: a latest version written by this
 * request is its own earlier write, returned as it is.
 */
export function gatewayWrite(
  ctx: Pick<RotationContext, 'vaultOf' | 'pollIntervalMs'>,
  input: GatewayWriteInput,
) {
  const { vaultOf, pollIntervalMs } = ctx;
  return asStepOutcome(async () => {
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
  });
}

/**
 * Checks that the gateway is ready, accepts the new token and refuses the old one, through its
 * admin RPC. "Not yet" while it restarts or still holds the old value. Reads only.
 */
export function gatewayVerify(
  ctx: Pick<RotationContext, 'vaultOf' | 'readiness' | 'gatewayUrl' | 'fetchImpl'>,
  input: GatewayVerifyInput,
) {
  const { vaultOf, readiness, gatewayUrl, fetchImpl } = ctx;
  return asStepOutcome(async () => {
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
  });
}

/**
 * Disables every enabled version older than the one the app now uses, only while that one is
 * still the latest. Safe to run twice: disabled versions stay disabled.
 */
export function retireVersions(ctx: Pick<RotationContext, 'vaultOf'>, input: RetireVersionsInput) {
  const { vaultOf } = ctx;
  return asStepOutcome(async () => {
    const vault = vaultOf(input.target);
    const current = await latestVersion(vault, input.secretName);
    if (current?.version !== input.keepVersion) {
      throw preconditionFailed(
        `${input.secretName} is at version ${short(current?.version)}, not ${short(input.keepVersion)}: the newer rotation retires what it replaced`,
      );
    }
    return done({ disabled: await disableOlderVersions(vault, input.secretName, input.keepVersion) });
  });
}
