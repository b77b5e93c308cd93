/**
 * The broker's error vocabulary. Every error carries a stable string `code` that the HTTP API
 * returns to callers and that tests assert on. Errors cross process boundaries serialised
 * (activity failures reach orchestrators as messages), so guards check `name`, not `instanceof`.
 */
export const ErrorCodes = {
  ConfigInvalid: 'ConfigInvalid',
  SlugInvalid: 'SlugInvalid',
  RequestInvalidJson: 'RequestInvalidJson',
  RequestSchemaViolation: 'RequestSchemaViolation',
  RequestUnknownOperation: 'RequestUnknownOperation',
  RequestUnsupportedVersion: 'RequestUnsupportedVersion',
  RequestOversized: 'RequestOversized',
  RequestIdConflict: 'RequestIdConflict',
  RequestProcessingFailed: 'RequestProcessingFailed',
  NotFound: 'NotFound',
  SecretStagingUnavailable: 'SecretStagingUnavailable',
  /** A `{ secretRef }` names something other than the secret staged for this request in the staging vault. */
  SecretReferenceRefused: 'SecretReferenceRefused',
  /** A request id in the namespace the broker's timers use, sent from outside the broker. */
  RequestIdReserved: 'RequestIdReserved',
  ConcurrencyConflict: 'ConcurrencyConflict',
  BadRequest: 'BadRequest',
  /** An Azure resource of the footprint's name exists but the broker does not own it. */
  ResourceNotOwned: 'ResourceNotOwned',
  /** A step of an operation failed; `details` carries the step and Azure's code and message. */
  StepFailed: 'StepFailed',
  /** The rendered OpenClaw config failed the security audit; nothing was deployed with it. */
  ConfigAuditFailed: 'ConfigAuditFailed',
  /** A secret the request referenced was not in the broker's vault (and not already moved). */
  StagedSecretMissing: 'StagedSecretMissing',
  /** The request has no approval waiting for a decision (never asked, already decided, expired). */
  ApprovalNotPending: 'ApprovalNotPending',
  /** The caller may not make this decision (the requester approving their own request, twice). */
  ApprovalForbidden: 'ApprovalForbidden',
  /** Easy Auth is configured (OPERATOR_AUTH=easyauth) but the call carries no principal the platform set. */
  Unauthenticated: 'Unauthenticated',
  /**
   * A maintenance step found the secret (or key, or SAS) no longer as its plan expected: a newer
   * rotation or renewal happened meanwhile. Nothing was changed.
   */
  PreconditionFailed: 'PreconditionFailed',
  /** A rotated credential was not confirmed working (the app still refused it) within the bound. */
  VerificationFailed: 'VerificationFailed',
  /** A step's activity kept failing (it threw) after its transient retries. */
  ActivityFailed: 'ActivityFailed',
  /** A role or Key Vault grant (or Entra replication) had not propagated within the bound. */
  PropagationTimeout: 'PropagationTimeout',
  /** The gateway did not report ready within the bound. */
  GatewayNotReady: 'GatewayNotReady',
  /** A maintenance step answered "not yet" where it may not wait (a restart still in progress). */
  NotReady: 'NotReady',
  /**
   * An OpenClaw image tag resolved to a different digest than the one frozen for that version:
   * version tags are immutable by policy only, so the broker refuses the moved tag.
   */
  TagMoved: 'TagMoved',
  // Upgrade waves (issue 14, item 3).
  /** The version is not an OpenClaw version the broker supports, or npm does not list it. */
  UpgradeVersionUnknown: 'UpgradeVersionUnknown',
  /** The version is known but not eligible (too young, a pre-release, no usable publish time). */
  UpgradeVersionIneligible: 'UpgradeVersionIneligible',
  /** npm's publish times (the release-age clock) could not be read: no version can be judged now. */
  UpgradeRegistryUnavailable: 'UpgradeRegistryUnavailable',
  /** Another upgrade wave is running: one at a time. */
  WaveAlreadyRunning: 'WaveAlreadyRunning',
  /** The wave has ended: it can no longer be paused, resumed or aborted. */
  WaveEnded: 'WaveEnded',
  Internal: 'Internal',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface BrokerErrorOptions {
  /** Extra, non-secret detail for callers (for example the list of schema issues). */
  details?: unknown;
  cause?: unknown;
}

export class BrokerError extends Error {
  override readonly name = 'BrokerError';
  readonly details: unknown;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: BrokerErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.details = options.details;
  }
}

export function isBrokerError(error: unknown): error is BrokerError {
  return (
    error instanceof Error && error.name === 'BrokerError' && typeof (error as BrokerError).code === 'string'
  );
}

/** The message of whatever a catch block received. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Turns whatever a catch block received into an Error, so callers can rely on `message`. */
export function ensureErrorType(error: unknown): Error {
  if (error instanceof Error) return error;
  if (typeof error === 'string') return new Error(error);
  try {
    return new Error(`Non-error thrown: ${JSON.stringify(error)}`);
  } catch {
    return new Error(`Non-error thrown: ${String(error)}`);
  }
}
