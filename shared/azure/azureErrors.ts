/**
 * What the broker keeps of an Azure (ARM, Key Vault, Graph) error: Azure's own code and message and
 * the HTTP status, nothing else. Raw SDK errors carry the request (headers, sometimes a body with a
 * storage key or a workspace shared key), so they never leave an adapter as they are: every adapter
 * converts them with `azureFailureOf` before anything is logged, returned or thrown across a process
 * boundary (activity results and failures land in orchestration history, which is plain text).
 */
export interface AzureFailure {
  /** Azure's error code (`PrincipalNotFound`, `ConflictError`, ...) or a broker code. */
  readonly code: string;
  readonly message: string;
  /** HTTP status, when the error came from an HTTP answer. */
  readonly status?: number | undefined;
}

/** core-lro reports a Failed long-running operation as a plain Error with this message. */
const LRO_FAILED = /^The long-running operation has failed(?:\. ([^.\s]+)\. ([\s\S]*))?$/;
const MAX_MESSAGE = 600;

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  statusCode?: unknown;
  details?: unknown;
}

/** Azure's code and message of any error an SDK or fetch threw; never the request or response. */
export function azureFailureOf(error: unknown): AzureFailure {
  if (!error || typeof error !== 'object') return { code: 'Unknown', message: String(error) };
  const e = error as ErrorLike;
  const message = typeof e.message === 'string' ? e.message : '';
  const lro = LRO_FAILED.exec(message);
  if (lro) {
    return {
      code: lro[1] ?? 'OperationFailed',
      message: trim(lro[2] ?? 'The long-running operation failed.'),
    };
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const details = e.details as { error?: { code?: unknown; message?: unknown } } | undefined;
  const code =
    (typeof e.code === 'string' && e.code) ||
    (typeof details?.error?.code === 'string' && details.error.code) ||
    (status !== undefined ? `Http${status}` : typeof e.name === 'string' ? e.name : 'Error');
  return { code, message: trim(message || 'no message'), ...(status !== undefined ? { status } : {}) };
}

/** The error was Azure's 404 (the resource, secret or object does not exist). */
export function isNotFound(error: unknown): boolean {
  return statusOf(error) === 404;
}

/** Key Vault (or ARM) refused the caller: for a fresh grant, the role has not propagated yet. */
export function isForbidden(error: unknown): boolean {
  return statusOf(error) === 403;
}

/**
 * Worth retrying later as the same step: throttling that outlasted the SDK's own retries, server
 * errors, timeouts and dropped connections. Everything else (4xx, failed long-running operations)
 * is Azure's answer and retrying the same call will not change it.
 */
export function isTransient(error: unknown): boolean {
  const status = statusOf(error);
  if (status === undefined) {
    const message = error instanceof Error ? error.message : '';
    if (LRO_FAILED.test(message)) return false;
    const code = (error as ErrorLike | undefined)?.code;
    return (
      typeof code === 'string' &&
      /^(ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|EAI_AGAIN|REQUEST_SEND_ERROR|UND_ERR_\w+)$/.test(code)
    );
  }
  return status === 408 || status === 429 || status >= 500;
}

/** True when an Azure SDK error (ARM, Key Vault, Storage, Graph) is the given HTTP status. */
export function hasStatus(error: unknown, status: number): boolean {
  return statusOf(error) === status;
}

/** The HTTP status of an Azure SDK error (RestError and GraphError carry `statusCode`). */
export function statusOf(error: unknown): number | undefined {
  const status = (error as ErrorLike | undefined)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

export function codeOf(error: unknown): string | undefined {
  const code = (error as ErrorLike | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

function trim(message: string): string {
  const oneLine = message.replace(/\s+/g, ' ').trim();
  return oneLine.length > MAX_MESSAGE ? `${oneLine.slice(0, MAX_MESSAGE)}…` : oneLine;
}
