import { app, type HttpRequest } from '@azure/functions';
import { z } from 'zod';
import { checkSlug } from '../../shared/domain/slug.js';
import { ErrorCodes } from '../../shared/errors.js';
import { Functions } from '../../shared/functionNames.js';
import { createLogger } from '../../shared/logger.js';
import { services, sweepControl } from '../services.js';
import { readBody } from './body.js';
import { callerLabel } from './caller.js';
import { json, problem, withProblems } from './problem.js';

/*
 * The sweeps' switches (the timer triggers are in functions/sweeps.ts): the global pause and the
 * per-slug opt-out.
 */

/** GET /api/sweeps: whether the sweeps are paused, by configuration or by the stored switch. */
const getSweeps = withProblems('get sweeps failed', async () => {
  const { config } = services();
  const pause = await sweepControl().get();
  return json(200, {
    paused: config.sweepsPaused || pause?.paused === true,
    pausedByConfiguration: config.sweepsPaused,
    ...(pause ? { switch: pause } : {}),
    schedules: { rotation: config.rotation.sweepSchedule, sas: config.sas.sweepSchedule },
  });
});

/** POST /api/sweeps/pause|resume (body `{ reason? }`): sets the stored global switch. */
function setPause(paused: boolean) {
  return withProblems('set sweep pause failed', async (request, context) => {
    const reason = await optionalReason(request);
    if (reason === null)
      return problem(ErrorCodes.BadRequest, 'body must be empty or { "reason": "<at most 200 characters>" }');
    const pause = {
      paused,
      by: callerLabel(request, services().config.operators),
      at: new Date().toISOString(),
      reason,
    };
    await sweepControl().set(pause);
    createLogger(context).info(paused ? 'sweeps paused' : 'sweeps resumed', { by: pause.by });
    return json(200, { paused, switch: pause, pausedByConfiguration: services().config.sweepsPaused });
  });
}

/** POST /api/environments/{slug}/sweeps/opt-out|opt-in (body `{ reason? }`): the per-slug switch. */
function setOptOut(optOut: boolean) {
  return withProblems('set sweep opt-out failed', async (request, context) => {
    const slug = request.params['slug'] ?? '';
    const check = checkSlug(slug);
    if (!check.ok) return problem(ErrorCodes.SlugInvalid, `Invalid slug: ${check.reason}`);
    const reason = await optionalReason(request);
    if (reason === null)
      return problem(ErrorCodes.BadRequest, 'body must be empty or { "reason": "<at most 200 characters>" }');
    const { registry } = services();
    if (!(await registry.get(slug))) return problem(ErrorCodes.NotFound, `no environment for slug ${slug}`);
    const by = callerLabel(request, services().config.operators);
    const updated = await registry.update(slug, (current) =>
      current
        ? {
            ...current,
            maintenance: {
              ...current.maintenance,
              optOut: optOut ? { at: new Date().toISOString(), by, reason } : undefined,
            },
          }
        : undefined,
    );
    createLogger(context).info(optOut ? 'slug opted out of sweeps' : 'slug opted in to sweeps', {
      slug,
      by,
    });
    return json(200, {
      slug,
      optedOut: Boolean(updated?.maintenance?.optOut),
      optOut: updated?.maintenance?.optOut,
    });
  });
}

/** The body of the switches: empty, or `{ reason }` of at most 200 characters. */
const reasonBodySchema = z
  .object({ reason: z.string().max(200).optional() })
  .strict()
  .optional();

/** `{ reason }` from the body; undefined for an empty body, null when the body is not acceptable. */
async function optionalReason(request: HttpRequest): Promise<string | undefined | null> {
  const body = await readBody(request, { schema: reasonBodySchema, blankIsAbsent: true });
  return body.ok ? body.value?.reason : null;
}

const routes = [
  { name: Functions.getSweeps, route: 'sweeps', method: 'GET', handler: getSweeps },
  { name: Functions.pauseSweeps, route: 'sweeps/pause', method: 'POST', handler: setPause(true) },
  { name: Functions.resumeSweeps, route: 'sweeps/resume', method: 'POST', handler: setPause(false) },
  {
    name: Functions.optOutOfSweeps,
    route: 'environments/{slug}/sweeps/opt-out',
    method: 'POST',
    handler: setOptOut(true),
  },
  {
    name: Functions.optInToSweeps,
    route: 'environments/{slug}/sweeps/opt-in',
    method: 'POST',
    handler: setOptOut(false),
  },
] as const;

for (const { name, route, method, handler } of routes) {
  app.http(name, { route, methods: [method], authLevel: 'function', handler });
}
