import type { RequestView } from '../shared/intake/requestView.js';

/**
 * A small client for the broker's HTTP API, used by the CLI. Errors from the API arrive as
 * problem+json and are thrown as ApiError with the broker's stable code.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export interface BrokerApiOptions {
  baseUrl: string;
  /** Function key for authLevel "function" endpoints (x-functions-key). */
  key?: string | undefined;
  /**
   * An Entra access token for the broker's app (Authorization: Bearer), when App Service
   * authentication fronts it (OPERATOR_AUTH=easyauth): the platform makes the operator from it.
   */
  token?: string | undefined;
  fetch?: typeof fetch;
}

export class BrokerApi {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: BrokerApiOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  submit(body: {
    op: string;
    slug: string;
    params?: Record<string, unknown>;
    secrets?: Record<string, string>;
    requestId?: string;
  }) {
    return this.call<{ requestId: string; status: string; statusUrl: string }>('POST', '/api/requests', body);
  }

  request(requestId: string) {
    return this.call<RequestView>('GET', `/api/requests/${encodeURIComponent(requestId)}`);
  }

  environments() {
    return this.call<{ environments: Record<string, unknown>[] }>('GET', '/api/environments');
  }

  environment(slug: string) {
    return this.call<Record<string, unknown>>('GET', `/api/environments/${encodeURIComponent(slug)}`);
  }

  rejected(limit: number) {
    return this.call<{ rejected: Record<string, unknown>[] }>('GET', `/api/rejected?limit=${limit}`);
  }

  /** An operator's decision on a request awaiting approval. */
  decide(requestId: string, decision: 'approve' | 'reject') {
    return this.call<ApprovalAnswer>(
      'POST',
      `/api/requests/${encodeURIComponent(requestId)}/${decision}`,
      {},
    );
  }

  audit(options: { limit: number; requestId?: string | undefined; slug?: string | undefined }) {
    const query = new URLSearchParams({ limit: String(options.limit) });
    if (options.requestId) query.set('requestId', options.requestId);
    if (options.slug) query.set('slug', options.slug);
    return this.call<{ entries: Record<string, unknown>[] }>('GET', `/api/audit?${query.toString()}`);
  }

  /** Points the Telegram bot's webhook at the broker (with the secret token from Key Vault). */
  telegramSetup(url?: string) {
    return this.call<{ url: string }>('POST', '/api/telegram/setup', url ? { url } : {});
  }

  // Upgrade waves and per-slug upgrade controls (issue 14, item 3).

  /** Starts a fleet upgrade wave to `version`. */
  startWave(version: string) {
    return this.call<WaveView & { statusUrl: string }>('POST', '/api/upgrades', { version });
  }

  waves() {
    return this.call<{ running?: string; waves: WaveView[] }>('GET', '/api/upgrades');
  }

  wave(waveId: string) {
    return this.call<WaveView>('GET', `/api/upgrades/${encodeURIComponent(waveId)}`);
  }

  controlWave(waveId: string, action: 'pause' | 'resume' | 'abort', reason?: string) {
    return this.call<WaveView>(
      'POST',
      `/api/upgrades/${encodeURIComponent(waveId)}/${action}`,
      reason ? { reason } : {},
    );
  }

  /** Holds a slug out of upgrades (`hold`), or lets it back (`release`). */
  holdUpgrades(slug: string, hold: boolean, reason?: string) {
    return this.call<{ slug: string; held: boolean; hold?: Record<string, unknown> }>(
      hold ? 'POST' : 'DELETE',
      `/api/environments/${encodeURIComponent(slug)}/upgrades/hold`,
      hold && reason ? { reason } : undefined,
    );
  }

  /** Pins a slug to `version`, or unpins it (no version). */
  pinUpgrades(slug: string, version?: string, reason?: string) {
    return this.call<{ slug: string; pinned?: { version: string; by: string; at: string; reason?: string } }>(
      version ? 'POST' : 'DELETE',
      `/api/environments/${encodeURIComponent(slug)}/upgrades/pin`,
      version ? { version, ...(reason ? { reason } : {}) } : undefined,
    );
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(path, this.options.baseUrl);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.options.key) headers['x-functions-key'] = this.options.key;
    if (this.options.token) headers['Authorization'] = `Bearer ${this.options.token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response: Response;
    try {
      response = await this.fetch(url, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
      });
    } catch (error) {
      throw new ApiError(
        0,
        'Unreachable',
        `cannot reach the broker at ${this.options.baseUrl}: ${(error as Error).message}`,
      );
    }
    const text = await response.text();
    let payload: unknown;
    try {
      payload = text ? JSON.parse(text) : undefined;
    } catch {
      payload = undefined;
    }
    if (!response.ok) {
      const problem = (payload ?? {}) as { code?: string; detail?: string; errors?: unknown };
      throw new ApiError(
        response.status,
        problem.code ?? `Http${response.status}`,
        problem.detail ??
          (response.status === 401
            ? 'unauthorised: set --key or CLAW_BROKER_KEY (and, behind Easy Auth, --token or CLAW_BROKER_TOKEN)'
            : `HTTP ${response.status}`),
        problem.errors,
      );
    }
    return payload as T;
  }
}

/** What POST /api/requests/{id}/approve|reject answers. */
export interface ApprovalAnswer {
  requestId: string;
  approval: 'pending' | 'approved' | 'rejected' | 'expired';
  approvals: number;
  approversNeeded: number;
  decidedAt?: string;
  summary: string;
}

/** One ring of a wave as the API shows it. */
export interface WaveRingView {
  index: number;
  name: string;
  canary: boolean;
  slugs: number;
  done: number;
  succeeded: number;
  failed: number;
  skipped: number;
  state: string;
  failureBudget: number;
  startsAfter?: string;
  startedAt?: string;
  endedAt?: string;
}

/** What GET /api/upgrades[/{waveId}] answers for a wave. */
export interface WaveView {
  waveId: string;
  targetVersion: string;
  status: string;
  requestedBy: { kind: string; id: string };
  createdAt: string;
  endedAt?: string;
  reason?: string;
  rings: WaveRingView[];
  skipped: number;
  control?: { paused: boolean; aborted: boolean; by: string; at: string; reason?: string };
  skippedSlugs?: { slug: string; reason?: string }[];
  slugs?: { slug: string; ring: number; state: string; outcome?: string; reason?: string }[];
}
