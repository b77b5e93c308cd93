import type { ZodError } from 'zod';
import type { ControllableSimClock } from './clock.js';
import type { FaultRegistry, FaultSpec } from './faults.js';
import type { RequestLog } from './requestLog.js';
import { SimHttpError, type SimSurface } from './surface.js';
import { messageOf } from '../../shared/errors.js';

export interface AdminOptions {
  clock: ControllableSimClock;
  faults: FaultRegistry;
  log: RequestLog;
  /** Every surface's snapshot, keyed by surface name. */
  snapshot: () => Record<string, unknown>;
  /** Settles whatever simulated time made due (after the clock moved). */
  settle: () => void;
}

/**
 * The control endpoint under /admin/ (JSON, loopback only, no auth): state, request log, faults and
 * the clock. The same operations exist on the object startSimulator returns.
 */
export function createAdminSurface(options: AdminOptions): SimSurface {
  const { clock, faults, log } = options;
  return {
    name: 'admin',
    prefix: '/admin/',
    async handle(req) {
      const path = req.url.pathname.replace(/\/+$/, '');
      const method = req.method;
      if (path === '/admin/state' && method === 'GET') {
        return {
          status: 200,
          body: {
            clock: { now: clock.isoNow(), mode: clock.mode },
            faults: faults.list(),
            surfaces: options.snapshot(),
          },
        };
      }
      if (path === '/admin/requests') {
        if (method === 'GET')
          return { status: 200, body: { value: log.list(Number(req.url.searchParams.get('after') ?? 0)) } };
        if (method === 'DELETE') {
          log.clear();
          return { status: 204 };
        }
      }
      if (path === '/admin/faults') {
        if (method === 'GET') return { status: 200, body: { value: faults.list() } };
        if (method === 'DELETE') {
          faults.clear();
          return { status: 204 };
        }
        if (method === 'POST') {
          const body = req.json<FaultSpec | FaultSpec[]>();
          const specs = Array.isArray(body) ? body : [body];
          try {
            return { status: 201, body: { value: specs.map((spec) => faults.add(spec)) } };
          } catch (error) {
            const issues = (error as ZodError).issues as unknown;
            throw new SimHttpError(400, {
              error: {
                code: 'InvalidFault',
                message: messageOf(error),
                issues,
              },
            });
          }
        }
      }
      const faultId = /^\/admin\/faults\/([^/]+)$/.exec(path)?.[1];
      if (faultId !== undefined && method === 'DELETE') {
        return faults.remove(faultId)
          ? { status: 204 }
          : { status: 404, body: { error: { code: 'NotFound', message: `No fault '${faultId}'.` } } };
      }
      if (path === '/admin/clock' && method === 'GET')
        return { status: 200, body: { now: clock.isoNow(), epochMs: clock.now(), mode: clock.mode } };
      if (path === '/admin/clock/advance' && method === 'POST') {
        const body = req.json<{ seconds?: number; ms?: number }>();
        const ms = (body.ms ?? 0) + (body.seconds ?? 0) * 1000;
        try {
          clock.advance(ms);
        } catch (error) {
          throw new SimHttpError(400, {
            error: {
              code: 'InvalidAdvance',
              message: messageOf(error),
            },
          });
        }
        options.settle();
        return { status: 200, body: { now: clock.isoNow(), epochMs: clock.now() } };
      }
      return {
        status: 404,
        body: { error: { code: 'NotFound', message: `No admin route ${method} ${path}.` } },
      };
    },
    snapshot: () => ({ faults: faults.list() }),
  };
}
