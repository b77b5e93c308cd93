import { app, type HttpRequest } from '@azure/functions';
import * as df from 'durable-functions';
import { z } from 'zod';
import { operatorRequester } from '../../shared/approvals/operatorIdentity.js';
import { isCalendarVersion } from '../../shared/domain/openclawVersion.js';
import { checkSlug } from '../../shared/domain/slug.js';
import { ErrorCodes } from '../../shared/errors.js';
import { Events, Functions } from '../../shared/functionNames.js';
import { createLogger } from '../../shared/logger.js';
import type { UpgradeWaveStore, WaveRecord } from '../../shared/storage/upgradeWaveStore.js';
import { waveInstanceId } from '../../shared/upgrades/waveContracts.js';
import type { ControlAction } from '../../shared/upgrades/waveSteps.js';
import { isDurableNotFound } from '../durableClient.js';
import { services } from '../services.js';
import { launchWave } from '../upgradeWaveActivities.js';
import { readBody } from './body.js';
import { callerLabel, callerOf } from './caller.js';
import { json, problem, withProblems } from './problem.js';

/*
 * Fleet upgrade waves and the per-slug upgrade controls (issue 14, item 3): start a wave, see its
 * progress, pause, resume or abort it; hold a slug out of upgrades or pin it to a version. The
 * work is in shared/upgrades/waveSteps.ts; these handlers parse, call, answer.
 */

const WAVE_ID = /^[0-9A-Za-z][0-9A-Za-z.:-]{0,39}$/;
const reason = z.string().max(200).optional();
const startBody = z.object({ version: z.string().min(1).max(40) }).strict();
const reasonBody = z.object({ reason }).strict().optional();
const pinBody = z.object({ version: z.string().min(1).max(40), reason }).strict();

/** A wave as the API shows it: the record without its etag, and its slugs when asked. */
async function waveView(wave: WaveRecord, store?: UpgradeWaveStore) {
  const { etag: _etag, ...view } = wave;
  if (!store) return view;
  const slugs = await store.slugs(wave.waveId);
  return {
    ...view,
    skippedSlugs: slugs.filter((slug) => slug.ring === null).map(({ slug, reason }) => ({ slug, reason })),
    slugs: slugs.filter((slug) => slug.ring !== null),
  };
}

/** POST /api/upgrades `{ version }`: starts a wave to that version. */
const startWave = withProblems('start upgrade wave failed', async (request, context) => {
  const { config } = services();
  const caller = callerOf(request, config.operators);
  if (!caller.ok) return caller.response;
  const body = await readBody(request, { schema: startBody });
  if (!body.ok) return problem(ErrorCodes.BadRequest, 'body must be { "version": "<OpenClaw version>" }');
  const { version } = body.value;
  if (!isCalendarVersion(version))
    return problem(ErrorCodes.UpgradeVersionUnknown, `${version} is not an OpenClaw version (YYYY.M.PATCH)`);
  const outcome = await launchWave(
    df.getClient(context),
    version,
    operatorRequester(caller.operator),
    new Date(),
  );
  if (outcome.kind === 'refused') {
    const { code, detail, ...extra } = outcome.refusal;
    return problem(ErrorCodes[code], detail, extra);
  }
  createLogger(context).info('upgrade wave requested', { waveId: outcome.wave.waveId, version });
  const statusUrl = new URL(`/api/upgrades/${encodeURIComponent(outcome.wave.waveId)}`, request.url).href;
  return json(202, { ...(await waveView(outcome.wave)), statusUrl }, { Location: statusUrl });
});

/** GET /api/upgrades: the waves, newest first, and which one runs. */
const listWaves = withProblems('list upgrade waves failed', async () => {
  const { upgradeWaves } = services();
  const waves = await upgradeWaves.list(50);
  const running = await upgradeWaves.current();
  return json(200, {
    running: waves.some((wave) => wave.waveId === running && !wave.endedAt) ? running : undefined,
    waves: await Promise.all(waves.map((wave) => waveView(wave))),
  });
});

/** GET /api/upgrades/{waveId}: one wave with its rings and slugs. */
const getWave = withProblems('get upgrade wave failed', async (request) => {
  const waveId = request.params['waveId'] ?? '';
  if (!WAVE_ID.test(waveId)) return problem(ErrorCodes.BadRequest, 'a wave id is 1-40 of A-Z a-z 0-9 . : -');
  const { upgradeWaves } = services();
  const wave = await upgradeWaves.get(waveId);
  if (!wave) return problem(ErrorCodes.NotFound, `no upgrade wave ${waveId}`);
  return json(200, await waveView(wave, upgradeWaves));
});

/** POST /api/upgrades/{waveId}/pause|resume|abort `{ reason? }`: stored, then the wave is woken. */
function controlWave(action: ControlAction) {
  return withProblems(`${action} upgrade wave failed`, async (request, context) => {
    const waveId = request.params['waveId'] ?? '';
    if (!WAVE_ID.test(waveId))
      return problem(ErrorCodes.BadRequest, 'a wave id is 1-40 of A-Z a-z 0-9 . : -');
    const body = await readBody(request, { schema: reasonBody, blankIsAbsent: true });
    if (!body.ok)
      return problem(ErrorCodes.BadRequest, 'body must be empty or { "reason": "<at most 200 characters>" }');
    const { config, waveSteps } = services();
    const by = callerLabel(request, config.operators);
    const outcome = await waveSteps.control({
      waveId,
      action,
      by,
      reason: body.value?.reason,
      now: new Date(),
    });
    if (outcome.kind === 'not-found') return problem(ErrorCodes.NotFound, `no upgrade wave ${waveId}`);
    if (outcome.kind === 'ended')
      return problem(
        ErrorCodes.WaveEnded,
        `wave ${waveId} has ended (${outcome.wave.status}); nothing to ${action}`,
      );
    try {
      // Wakes the wave; the stored control decides, so a lost event only delays it to its next look.
      await df.getClient(context).raiseEvent(waveInstanceId(waveId), Events.waveControl, { action });
    } catch (error) {
      if (!isDurableNotFound(error)) throw error;
    }
    createLogger(context).info(`upgrade wave ${action}`, { waveId, by });
    return json(200, await waveView(outcome.wave));
  });
}

/** POST|DELETE /api/environments/{slug}/upgrades/hold: keeps a slug out of every upgrade (or lets it back). */
function setHold(hold: boolean) {
  return withProblems('set upgrade hold failed', async (request, context) => {
    const slug = await slugOf(request);
    if (typeof slug !== 'string') return slug;
    const body = await readBody(request, { schema: reasonBody, blankIsAbsent: true });
    if (!body.ok)
      return problem(ErrorCodes.BadRequest, 'body must be empty or { "reason": "<at most 200 characters>" }');
    const { config, registry } = services();
    const by = callerLabel(request, config.operators);
    const at = new Date().toISOString();
    const updated = await registry.update(slug, (current) =>
      current
        ? {
            ...current,
            upgrades: {
              ...current.upgrades,
              hold: hold ? { at, by, reason: body.value?.reason } : undefined,
            },
          }
        : undefined,
    );
    createLogger(context).info(hold ? 'slug held from upgrades' : 'slug released for upgrades', { slug, by });
    return json(200, { slug, held: Boolean(updated?.upgrades?.hold), hold: updated?.upgrades?.hold });
  });
}

/** POST /api/environments/{slug}/upgrades/pin `{ version, reason? }`, DELETE to unpin. */
function setPin(pin: boolean) {
  return withProblems('set upgrade pin failed', async (request, context) => {
    const slug = await slugOf(request);
    if (typeof slug !== 'string') return slug;
    let pinned: { version: string; reason?: string | undefined } | undefined;
    if (pin) {
      const body = await readBody(request, { schema: pinBody });
      if (!body.ok)
        return problem(
          ErrorCodes.BadRequest,
          'body must be { "version": "<OpenClaw version>", "reason"?: "..." }',
        );
      if (!isCalendarVersion(body.value.version))
        return problem(
          ErrorCodes.BadRequest,
          `${body.value.version} is not an OpenClaw version (YYYY.M.PATCH)`,
        );
      pinned = body.value;
    }
    const { config, registry } = services();
    const by = callerLabel(request, config.operators);
    const at = new Date().toISOString();
    const updated = await registry.update(slug, (current) =>
      current
        ? {
            ...current,
            upgrades: {
              ...current.upgrades,
              pinned: pinned ? { at, by, version: pinned.version, reason: pinned.reason } : undefined,
            },
          }
        : undefined,
    );
    createLogger(context).info(pin ? 'slug pinned' : 'slug unpinned', { slug, by, version: pinned?.version });
    return json(200, { slug, pinned: updated?.upgrades?.pinned });
  });
}

/** The route's slug when it is valid and has an environment; otherwise the problem to answer. */
async function slugOf(request: HttpRequest) {
  const slug = request.params['slug'] ?? '';
  const check = checkSlug(slug);
  if (!check.ok) return problem(ErrorCodes.SlugInvalid, `Invalid slug: ${check.reason}`);
  if (!(await services().registry.get(slug)))
    return problem(ErrorCodes.NotFound, `no environment for slug ${slug}`);
  return slug;
}

const durable = [df.input.durableClient()];
const routes = [
  {
    name: Functions.startUpgradeWave,
    route: 'upgrades',
    method: 'POST',
    handler: startWave,
    extraInputs: durable,
  },
  { name: Functions.listUpgradeWaves, route: 'upgrades', method: 'GET', handler: listWaves },
  { name: Functions.getUpgradeWave, route: 'upgrades/{waveId}', method: 'GET', handler: getWave },
  {
    name: Functions.pauseUpgradeWave,
    route: 'upgrades/{waveId}/pause',
    method: 'POST',
    handler: controlWave('pause'),
    extraInputs: durable,
  },
  {
    name: Functions.resumeUpgradeWave,
    route: 'upgrades/{waveId}/resume',
    method: 'POST',
    handler: controlWave('resume'),
    extraInputs: durable,
  },
  {
    name: Functions.abortUpgradeWave,
    route: 'upgrades/{waveId}/abort',
    method: 'POST',
    handler: controlWave('abort'),
    extraInputs: durable,
  },
  {
    name: Functions.holdUpgrades,
    route: 'environments/{slug}/upgrades/hold',
    method: 'POST',
    handler: setHold(true),
  },
  {
    name: Functions.releaseUpgrades,
    route: 'environments/{slug}/upgrades/hold',
    method: 'DELETE',
    handler: setHold(false),
  },
  {
    name: Functions.pinUpgrades,
    route: 'environments/{slug}/upgrades/pin',
    method: 'POST',
    handler: setPin(true),
  },
  {
    name: Functions.unpinUpgrades,
    route: 'environments/{slug}/upgrades/pin',
    method: 'DELETE',
    handler: setPin(false),
  },
] as const;

for (const { name, route, method, handler, ...rest } of routes) {
  app.http(name, {
    route,
    methods: [method],
    authLevel: 'function',
    handler,
    ...('extraInputs' in rest ? { extraInputs: [...rest.extraInputs] } : {}),
  });
}
