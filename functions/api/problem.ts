import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import {
  ErrorCodes,
  ensureErrorType,
  isBrokerError,
  type ErrorCode,
  messageOf,
} from '../../shared/errors.js';
import { createLogger } from '../../shared/logger.js';

const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  [ErrorCodes.RequestInvalidJson]: 400,
  [ErrorCodes.RequestSchemaViolation]: 400,
  [ErrorCodes.RequestUnknownOperation]: 400,
  [ErrorCodes.RequestUnsupportedVersion]: 400,
  [ErrorCodes.SlugInvalid]: 400,
  [ErrorCodes.BadRequest]: 400,
  [ErrorCodes.SecretReferenceRefused]: 400,
  [ErrorCodes.RequestIdReserved]: 400,
  [ErrorCodes.RequestOversized]: 413,
  [ErrorCodes.NotFound]: 404,
  [ErrorCodes.RequestIdConflict]: 409,
  [ErrorCodes.ConcurrencyConflict]: 409,
  [ErrorCodes.SecretStagingUnavailable]: 503,
  [ErrorCodes.UpgradeVersionUnknown]: 400,
  [ErrorCodes.UpgradeVersionIneligible]: 409,
  [ErrorCodes.WaveAlreadyRunning]: 409,
  [ErrorCodes.UpgradeRegistryUnavailable]: 503,
  [ErrorCodes.WaveEnded]: 409,
};

/** An RFC 9457 problem+json response with the broker's stable error code. */
export function problem(
  code: ErrorCode,
  detail: string,
  extra: Record<string, unknown> = {},
  status?: number,
): HttpResponseInit {
  const httpStatus = status ?? STATUS_BY_CODE[code] ?? 500;
  return {
    status: httpStatus,
    headers: { 'Content-Type': 'application/problem+json' },
    body: JSON.stringify({
      type: `https://github.com/claw-broker/claw-broker/blob/main/README.md#error-${code.toLowerCase()}`,
      title: titleFor(code),
      status: httpStatus,
      code,
      detail,
      ...extra,
    }),
  };
}

/** Maps a thrown error to a problem: BrokerErrors keep their code; anything else is Internal. */
export function problemFromError(error: unknown): HttpResponseInit {
  if (isBrokerError(error))
    return problem(error.code, error.message, error.details ? { errors: error.details } : {});
  ensureErrorType(error);
  return problem(ErrorCodes.Internal, 'The broker failed to handle the request; see its logs.');
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

function titleFor(code: ErrorCode): string {
  return code.replace(/([a-z])([A-Z])/g, '$1 $2');
}

/** An HTTP handler of the API. */
export type ApiHandler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

/**
 * The one problem wrapper: runs `work` and turns whatever it throws into a problem (a BrokerError
 * keeps its code, anything else is an `Internal` 500 that says no more), logged as `failure`.
 */
export async function answerProblems(
  context: InvocationContext,
  failure: string,
  work: () => Promise<HttpResponseInit>,
): Promise<HttpResponseInit> {
  try {
    return await work();
  } catch (error) {
    createLogger(context).error(failure, { error: messageOf(error) });
    return problemFromError(error);
  }
}

/** A handler whose failures are answered as problems (answerProblems), logged as `failure`. */
export function withProblems(failure: string, handler: ApiHandler): ApiHandler {
  return (request, context) => answerProblems(context, failure, () => handler(request, context));
}
