import type { IncomingHttpHeaders } from 'node:http';

/**
 * The contract between the simulator's HTTPS server and each simulated service ("surface").
 * The server parses the request once, applies fault injection and throttling, logs it, and
 * offers it to each surface by path prefix; the first surface that answers wins.
 */
export interface SimRequest {
  method: string;
  url: URL;
  /**
   * The request target exactly as the client sent it (path and query), before the server maps a
   * per-service listener onto its surface prefix; for signatures computed over the client's URL.
   */
  rawUrl?: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The body parsed as JSON; throws a SimHttpError(400) when it is not JSON. */
  json<T = unknown>(): T;
}

export interface SimResponse {
  status: number;
  headers?: Record<string, string>;
  /** A plain object or array is sent as JSON; a string or Buffer as is. */
  body?: unknown;
}

/** The simulator's clock: simulated time that tests can advance, never Date.now(). */
export interface SimClock {
  now(): number;
}

export interface SimSurface {
  /** Short name used in the request log and the admin state, e.g. "arm", "telegram". */
  readonly name: string;
  /** Path prefix the surface owns, e.g. "/telegram/"; "/" for ARM at the root. */
  readonly prefix: string;
  /**
   * Optional finer claim for surfaces that share a prefix (ARM and the token service both live at
   * "/"): the server attributes a request to the first surface whose prefix matches and whose
   * `claims` (when present) returns true, for faults, throttling and the request log.
   */
  claims?(url: URL): boolean;
  /**
   * Optional: the path as the request log may show it, for surfaces that carry secrets in paths.
   * The server also always masks Telegram-style bot tokens (`/bot<id>:<secret>/`).
   */
  redactPath?(path: string): string;
  /** Answers the request, or returns undefined to let the next surface try. */
  handle(req: SimRequest): Promise<SimResponse | undefined>;
  /** The surface's whole state as JSON-serialisable data, for the admin endpoint. */
  snapshot(): unknown;
  /**
   * Optional: the surface's state for the simulator's state file, secrets included (unlike
   * `snapshot`). JSON-serialisable. Saved under the surface's name.
   */
  exportState?(): unknown;
  /** Optional: replaces the surface's state with what `exportState` returned before a restart. */
  importState?(state: unknown): void;
}

/** Something besides a surface whose state the state file keeps (e.g. the file share store). */
export interface PersistentPart {
  readonly name: string;
  exportState(): unknown;
  importState(state: unknown): void;
}

/** Thrown by a surface to answer with an error in the surface's own wire format. */
export class SimHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body === 'string' ? body : JSON.stringify(body));
    this.name = 'SimHttpError';
  }
}
