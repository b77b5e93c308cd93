import { startSandboxWorld, type SandboxWorldOptions } from '../../sandbox/world.js';
import { TestWorld, type RequestView } from '../support/testWorld.js';

export type { RequestView } from '../support/testWorld.js';

export type ProvisionWorldOptions = Pick<
  SandboxWorldOptions,
  'simulator' | 'settings' | 'host' | 'telegram' | 'realOpenClaw'
>;

/**
 * The sandbox world (sandbox/world.ts: the broker on the local Functions host over Azurite, against
 * the simulated Azure, Graph and OpenClaw gateway, reached by configuration alone) set up for
 * provisioning scenarios: on free ports, without Telegram unless asked for, the sweeps paused, and
 * with the gateways pulling the image by its upstream name (the OpenClaw stand-in knows it so).
 * Waits and retries are scaled down by settings (1 s retry interval, 50 ms long-running-operation
 * polls) and the simulator's propagation delays are seconds, not minutes; nothing else differs.
 */
export class ProvisionWorld extends TestWorld {
  static start(options: ProvisionWorldOptions = {}): Promise<ProvisionWorld> {
    return startSandboxWorld(
      {
        hostPort: 0,
        registryName: 'clawtestacr',
        telegram: options.telegram ?? false,
        simulator: { dataPlanePropagationSeconds: 2, provisioningSeconds: 0.2, ...options.simulator },
        settings: {
          DURABLE_TASK_HUB: 'clawprovision',
          IMAGE_REPOSITORY: 'ghcr.io/openclaw/openclaw',
          OPENCLAW_DEFAULT_VERSION: '2026.9.6',
          NAME_SALT: 'scenario',
          // Provisioning alone: no rotation or SAS sweep may enqueue work for the slugs mid-test.
          SWEEPS_PAUSED: 'true',
          AZURE_LRO_POLL_INTERVAL_MS: '50',
          PROVISION_RETRY_INTERVAL: '1s',
          PROVISION_READY_POLL_INTERVAL: '1s',
          PROVISION_PROPAGATION_TIMEOUT: '2m',
          PROVISION_READY_TIMEOUT: '1m',
          ...options.settings,
        },
        host: options.host,
        ...(options.realOpenClaw ? { realOpenClaw: options.realOpenClaw } : {}),
      },
      ProvisionWorld,
    );
  }

  /** Submits a provision request through the HTTP API, as the CLI does. */
  async requestProvision(
    slug: string,
    requestId: string,
    params: Record<string, unknown> = {},
  ): Promise<void> {
    const answer = await this.api('POST', '/api/requests', { op: 'provision', slug, requestId, params });
    if (answer.status !== 202)
      throw new Error(`submitting ${requestId} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  }

  /** Polls the request until `done` says so; the bound is a safety net, not an assertion. */
  async until(
    requestId: string,
    done: (view: RequestView) => boolean,
    what = 'the wanted state',
    timeoutMs = 150_000,
  ): Promise<RequestView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let view: RequestView | undefined;
      try {
        view = await this.request(requestId);
      } catch {
        view = undefined; // the host is restarting
      }
      if (view && done(view)) return view;
      if (Date.now() > deadline)
        throw new Error(`request ${requestId} is ${JSON.stringify(view)}; wanted ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  untilFinished(requestId: string, timeoutMs?: number): Promise<RequestView> {
    return this.until(
      requestId,
      (view) => ['succeeded', 'failed', 'rejected'].includes(view.status),
      'an outcome',
      timeoutMs,
    );
  }

  /** Provisions and waits for the outcome. */
  async provision(
    slug: string,
    requestId: string,
    params: Record<string, unknown> = {},
  ): Promise<RequestView> {
    await this.requestProvision(slug, requestId, params);
    return this.untilFinished(requestId);
  }

  async environment(slug: string): Promise<Record<string, unknown>> {
    return (await this.api('GET', `/api/environments/${slug}`)).body;
  }
}
