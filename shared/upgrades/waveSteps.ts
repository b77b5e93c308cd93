import type { BrokerConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { messageOf } from '../errors.js';
import { waveRequestId } from '../domain/upgradeState.js';
import { compareCalendarVersions, isCalendarVersion } from '../domain/openclawVersion.js';
import type { NpmPublishTimes } from '../registries/npmRegistry.js';
import { LIFECYCLE_REQUEST_SCHEMA_VERSION, type RequestedBy } from '../requests/lifecycleRequest.js';
import { validateLifecycleRequest } from '../requests/parseLifecycleRequest.js';
import type { EnvironmentRecord, EnvironmentRegistry } from '../storage/environmentRegistry.js';
import { TERMINAL_REQUEST_STATUSES, type RequestStore } from '../storage/requestStore.js';
import {
  ENDED_WAVE_STATUSES,
  type RingProgress,
  type UpgradeWaveStore,
  type WaveRecord,
  type WaveSlug,
} from '../storage/upgradeWaveStore.js';
import { paceRequests } from '../sweeps/sweepPlanner.js';
import { forEachBounded, withRetryAfter, type QueueSender } from '../sweeps/sweepRunner.js';
import { judgeVersion, judgeVersions, newestEligibleAbove, type VersionVerdict } from './eligibility.js';
import {
  UPGRADE_ARM_WRITES,
  waveActor,
  type RingObservation,
  type WaveControlView,
  type WaveEnqueued,
  type WaveEnqueueInput,
  type WaveObserveInput,
  type WavePlanInput,
  type WavePlanOutcome,
  type WaveReportInput,
} from './waveContracts.js';
import { waveMessageText } from './waveMessage.js';
import { planWave, skipReason } from './wavePlan.js';

/** The npm package whose publish times are the release-age clock. */
export const OPENCLAW_PACKAGE = 'openclaw';

/** Where the wave's progress message lives: sent once, then edited. */
export interface WaveChat {
  send(text: string): Promise<{ chatId: string; messageId: number }>;
  edit(chat: { chatId: string; messageId: number }, text: string): Promise<void>;
}

export interface WaveDependencies {
  config: Pick<BrokerConfig, 'waves' | 'openclaw' | 'sweeps'>;
  registry: EnvironmentRegistry;
  requests: RequestStore;
  waves: UpgradeWaveStore;
  queue(): Promise<QueueSender>;
  publishTimes(name: string): Promise<NpmPublishTimes>;
  chat: WaveChat;
  log: Logger;
  sleep?: (ms: number) => Promise<void>;
}

export type StartRefusal =
  | { code: 'UpgradeVersionUnknown'; detail: string }
  | { code: 'UpgradeVersionIneligible'; detail: string; reason: string; eligibleFrom?: string | undefined }
  | { code: 'WaveAlreadyRunning'; detail: string; waveId: string }
  | { code: 'UpgradeRegistryUnavailable'; detail: string };

export type StartOutcome = { kind: 'started'; wave: WaveRecord } | { kind: 'refused'; refusal: StartRefusal };

export type ControlAction = 'pause' | 'resume' | 'abort';

export type ControlOutcome =
  { kind: 'not-found' } | { kind: 'ended'; wave: WaveRecord } | { kind: 'set'; wave: WaveRecord };

/** Request records an observation reads for slugs the registry says nothing about yet. */
const REQUEST_READS_PER_LOOK = 10;

/** Verdicts that mean "the broker does not know this version" rather than "not yet / not allowed". */
const UNKNOWN_VERSION = new Set(['not-a-version', 'unsupported', 'not-published']);

/** `<version>-<yyyymmddThhmmss>`: sortable, readable, and short enough for `upgrade:<waveId>:<slug>` (64). */
export function newWaveId(version: string, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').slice(0, 15);
  return `${version}-${stamp}`;
}

/**
 * The fleet waves' work, below the triggers and activities (functions/api/upgrades.ts,
 * functions/upgradeWaveActivities.ts): starting a wave, planning its rings, enqueueing a ring's
 * per-slug upgrades, observing how they end, recording progress (and the chat message), and the
 * operators' controls. Every step is safe to run twice: request ids are deterministic
 * (`upgrade:<waveId>:<slug>`) and recorded before they are enqueued, rows are written whole, and
 * progress is recomputed from the registry and the request store rather than counted up.
 */
export function createWaveSteps(deps: WaveDependencies) {
  const { config, waves, registry, requests, log } = deps;

  function verdictOn(version: string, published: NpmPublishTimes, now: Date): VersionVerdict {
    return judgeVersion(version, {
      now: now.getTime(),
      published,
      policy: { minReleaseAgeMs: config.waves.canaryMinAgeMs },
    });
  }

  /**
   * Whether the wave holding the running slot has ended by its record. A missing record has not
   * (its starter may be between taking the slot and writing it); the caller's `isOver` decides then.
   */
  async function recordEnded(waveId: string): Promise<boolean> {
    const wave = await waves.get(waveId);
    return wave !== undefined && ENDED_WAVE_STATUSES.has(wave.status);
  }

  /** Rewrites the chat message from the record; best-effort, a chat failure never stops a wave. */
  async function tell(wave: WaveRecord): Promise<WaveRecord> {
    const text = waveMessageText(wave);
    try {
      if (wave.chat) {
        await deps.chat.edit(wave.chat, text);
        return wave;
      }
      const chat = await deps.chat.send(text);
      return (
        (await waves.update(wave.waveId, (current) => ({ ...current, chat: current.chat ?? chat }))) ?? wave
      );
    } catch (error) {
      log.warn('wave progress message not sent', { waveId: wave.waveId, error: messageOf(error) });
      return wave;
    }
  }

  const controlOf = (wave: WaveRecord | undefined): WaveControlView => ({
    paused: wave?.control?.paused ?? false,
    aborted: wave?.control?.aborted ?? false,
    by: wave?.control?.by,
    reason: wave?.control?.reason,
  });

  return {
    /**
     * Starts a wave to `version`: refused when the version is unknown or not eligible (the canary
     * ring's minimum age), or when another wave runs. Takes the running slot, then writes the
     * record; the caller starts the orchestration. `isOver` tells whether the wave holding the slot
     * has ended (its orchestration is no longer running), for a slot a crash did not give back.
     */
    async start(input: {
      version: string;
      requestedBy: RequestedBy;
      now: Date;
      isOver?: (waveId: string) => Promise<boolean>;
    }): Promise<StartOutcome> {
      const { version, now } = input;
      let published: NpmPublishTimes;
      try {
        published = await deps.publishTimes(OPENCLAW_PACKAGE);
      } catch (error) {
        // Without publish times no version can be aged: refuse now, nothing is started.
        return {
          kind: 'refused',
          refusal: {
            code: 'UpgradeRegistryUnavailable',
            detail: `npm's publish times could not be read (${messageOf(error)}); try again later`,
          },
        };
      }
      const verdict = verdictOn(version, published, now);
      if (!verdict.eligible) {
        if (UNKNOWN_VERSION.has(verdict.reason))
          return { kind: 'refused', refusal: { code: 'UpgradeVersionUnknown', detail: verdict.detail } };
        return {
          kind: 'refused',
          refusal: {
            code: 'UpgradeVersionIneligible',
            detail: verdict.eligibleFrom
              ? `${verdict.detail}: eligible from ${verdict.eligibleFrom}`
              : verdict.detail,
            reason: verdict.reason,
            eligibleFrom: verdict.eligibleFrom,
          },
        };
      }
      const waveId = newWaveId(version, now);
      // Ids are per second: a second start within the same second finds the first one's record.
      const same = await waves.get(waveId);
      if (same) {
        return {
          kind: 'refused',
          refusal: {
            code: 'WaveAlreadyRunning',
            detail: `wave ${waveId} was started this second${ENDED_WAVE_STATUSES.has(same.status) ? ' and has ended; start again' : ' and is running'}`,
            waveId,
          },
        };
      }
      const claim = await waves.claimCurrent(
        waveId,
        async (heldBy) => (await recordEnded(heldBy)) || ((await input.isOver?.(heldBy)) ?? false),
      );
      if (!claim.claimed) {
        return {
          kind: 'refused',
          refusal: {
            code: 'WaveAlreadyRunning',
            detail: `wave ${claim.runningWaveId} is running; pause, abort or wait for it first`,
            waveId: claim.runningWaveId,
          },
        };
      }
      const at = now.toISOString();
      await waves.create({
        waveId,
        targetVersion: version,
        status: 'starting',
        requestedBy: input.requestedBy,
        createdAt: at,
        updatedAt: at,
        publishedAt: verdict.publishedAt,
        rings: [],
        skipped: 0,
      });
      const wave = (await waves.get(waveId))!;
      log.info('upgrade wave started', { waveId, version, by: input.requestedBy.id });
      return { kind: 'started', wave };
    },

    /**
     * For the timer: the newest eligible version above the oldest version a ready slug runs, when
     * no wave runs and no wave to that version halted or was aborted (an operator decides about a
     * version that failed a wave, not the timer), and when at least one slug would take it.
     */
    async autoTarget(now: Date): Promise<{ version: string } | { nothing: string }> {
      const running = await waves.current();
      if (running && !(await recordEnded(running))) return { nothing: `wave ${running} is running` };
      const records = await registry.list();
      const versions = records
        .filter((record) => record.state === 'ready')
        .map((record) => record.upgrades?.current?.version ?? record.openclawVersion)
        .filter((version): version is string => version !== undefined && isCalendarVersion(version))
        .sort(compareCalendarVersions);
      const oldest = versions[0];
      if (!oldest) return { nothing: 'no ready slug with a known version' };
      const published = await deps.publishTimes(OPENCLAW_PACKAGE);
      const verdicts = judgeVersions({
        now: now.getTime(),
        published,
        policy: { minReleaseAgeMs: config.waves.canaryMinAgeMs },
      });
      const target = newestEligibleAbove(oldest, verdicts);
      if (!target) return { nothing: `no eligible version above ${oldest}` };
      const stopped = (await waves.list(200)).find(
        (wave) => wave.targetVersion === target && (wave.status === 'halted' || wave.status === 'aborted'),
      );
      if (stopped)
        return { nothing: `wave ${stopped.waveId} to ${target} ${stopped.status}; start one by hand` };
      // Held, pinned and failed-before slugs stay behind on purpose: no wave for them alone.
      const plan = planWave(records, target, config.waves);
      if (plan.rings.every((ring) => ring.slugs.length === 0))
        return { nothing: `no slug would take ${target} (${plan.skipped.length} left out)` };
      return { version: target };
    },

    /**
     * Plans the wave's rings from the registry and writes them (the record's rings, one row per
     * slug). Safe to run twice: a wave already planned answers its plan as written.
     */
    async plan(input: WavePlanInput): Promise<WavePlanOutcome> {
      const wave = await waves.get(input.waveId);
      if (!wave) return { status: 'refused', reason: `no wave ${input.waveId}` };
      const summary = (rings: RingProgress[], skipped: number): WavePlanOutcome => ({
        status: 'planned',
        plan: {
          targetVersion: wave.targetVersion,
          publishedAt: wave.publishedAt,
          rings: rings.map((ring) => ({
            name: ring.name,
            canary: ring.canary,
            slugs: ring.slugs,
            minAgeMs: ring.minAgeMs,
            bakeMs: ring.bakeMs,
            failureBudget: ring.failureBudget,
          })),
          skipped,
          requestedBy: wave.requestedBy,
          pollIntervalMs: config.waves.pollIntervalMs,
          ringTimeoutMs: config.waves.ringTimeoutMs,
        },
      });
      if (wave.rings.length > 0) return summary(wave.rings, wave.skipped);
      const plan = planWave(await registry.list(), wave.targetVersion, config.waves);
      const rows: WaveSlug[] = [
        ...plan.rings.flatMap((ring, index) =>
          ring.slugs.map((slug): WaveSlug => ({
            slug,
            ring: index,
            requestId: waveRequestId(wave.waveId, slug),
            state: 'planned',
          })),
        ),
        ...plan.skipped.map(({ slug, reason }): WaveSlug => ({
          slug,
          ring: null,
          requestId: waveRequestId(wave.waveId, slug),
          state: 'skipped',
          reason,
          at: input.now,
        })),
      ];
      await waves.putSlugs(wave.waveId, rows);
      const rings: RingProgress[] = plan.rings.map((ring, index) => ({
        index,
        name: ring.name,
        canary: ring.canary,
        slugs: ring.slugs.length,
        done: 0,
        succeeded: 0,
        failed: 0,
        skipped: 0,
        state: ring.slugs.length === 0 ? 'empty' : 'pending',
        failureBudget: ring.failureBudget,
        minAgeMs: ring.minAgeMs,
        bakeMs: ring.bakeMs,
      }));
      const updated = await waves.update(wave.waveId, (current) =>
        current.rings.length > 0
          ? undefined
          : { ...current, rings, skipped: plan.skipped.length, status: 'running', updatedAt: input.now },
      );
      if (updated) await tell(updated);
      return summary(updated?.rings ?? rings, updated?.skipped ?? plan.skipped.length);
    },

    /**
     * Enqueues the upgrade of each planned slug of the ring, through the sweeps' path: recorded
     * first as the broker's (so the intake takes its reserved `upgrade:` id), then sent, paced by
     * queue visibility under the sweeps' ARM write budget. A slug held, pinned or no longer ready
     * since planning is skipped with its reason. Safe to run twice: a recorded request is not sent
     * again, and the intake drops a duplicate message anyway.
     */
    async enqueue(input: WaveEnqueueInput): Promise<WaveEnqueued> {
      const wave = await waves.get(input.waveId);
      if (!wave) throw new Error(`no wave ${input.waveId}`);
      const slugs = (await waves.slugs(input.waveId, input.ring)).filter((slug) => slug.state === 'planned');
      const records = new Map((await registry.list()).map((record) => [record.slug, record] as const));
      const result: WaveEnqueued = { enqueued: 0, known: 0, skipped: 0, failed: 0 };
      const changed: WaveSlug[] = [];
      const due: { slug: WaveSlug; armWrites: number }[] = [];
      for (const slug of slugs) {
        const record = records.get(slug.slug);
        const reason = record ? skipReason(record, wave.targetVersion) : 'no longer in the registry';
        if (reason) {
          result.skipped += 1;
          changed.push({ ...slug, state: 'skipped', reason, at: input.now });
        } else due.push({ slug, armWrites: UPGRADE_ARM_WRITES });
      }
      const paced = paceRequests(due, {
        writesPerSecond: config.sweeps.armWritesPerSecond,
        burst: config.sweeps.armWriteBurst,
      });
      const queue = await deps.queue();
      await forEachBounded(paced, config.sweeps.enqueueConcurrency, async ({ request, delayMs }) => {
        const { slug } = request;
        try {
          const outcome = await enqueueOne(wave, slug, delayMs, input.now, queue);
          result[outcome] += 1;
          changed.push({ ...slug, state: 'enqueued', at: input.now });
        } catch (error) {
          result.failed += 1;
          changed.push({
            ...slug,
            state: 'failed',
            reason: `not enqueued: ${messageOf(error)}`,
            at: input.now,
          });
        }
      });
      await waves.putSlugs(input.waveId, changed);
      log.info('upgrade wave ring enqueued', { waveId: input.waveId, ring: input.ring, ...result });
      return result;
    },

    /**
     * How the ring's upgrades stand: each slug's `upgrades.last` for this wave's request, or the
     * request's own final status when the upgrade left none (refused at intake, failed before it
     * recorded). `upgraded`/`up-to-date` succeed; `rolled-back`/`needs-repair` fail; `refused` is
     * skipped. Past the deadline a slug still pending counts as failed. Writes what changed to the
     * slug rows and the ring's counts (and the chat message when they moved).
     */
    async observe(input: WaveObserveInput): Promise<RingObservation> {
      const wave = await waves.get(input.waveId);
      if (!wave) throw new Error(`no wave ${input.waveId}`);
      const slugs = await waves.slugs(input.waveId, input.ring);
      const records = new Map((await registry.list()).map((record) => [record.slug, record] as const));
      const changed: WaveSlug[] = [];
      const overdue = Date.parse(input.now) >= Date.parse(input.deadline);
      // The request store is read for a slug only when the registry says its request ended without
      // an upgrade outcome, or for a few each time (a request refused before it ran leaves no trace
      // on the registry), so a large ring costs one registry listing per look, not a read per slug.
      const enqueued = slugs.filter((slug) => slug.state === 'enqueued');
      const offset = enqueued.length === 0 ? 0 : Math.floor(Date.parse(input.now) / 1000) % enqueued.length;
      const sampled = new Set(
        [...enqueued.slice(offset), ...enqueued.slice(0, offset)]
          .slice(0, REQUEST_READS_PER_LOOK)
          .map((s) => s.slug),
      );
      for (const slug of enqueued) {
        const ended = await endOf(slug, records.get(slug.slug), sampled.has(slug.slug));
        if (ended) changed.push({ ...slug, ...ended, at: input.now });
        else if (overdue)
          changed.push({
            ...slug,
            state: 'failed',
            outcome: 'timed-out',
            reason: `did not end by ${input.deadline} (UPGRADE_RING_TIMEOUT)`,
            at: input.now,
          });
      }
      if (changed.length > 0) await waves.putSlugs(input.waveId, changed);
      const byName = new Map(slugs.map((slug) => [slug.slug, slug] as const));
      for (const slug of changed) byName.set(slug.slug, slug);
      const all = [...byName.values()];
      const count = (state: WaveSlug['state']) => all.filter((slug) => slug.state === state).length;
      const observation: RingObservation = {
        slugs: all.length,
        succeeded: count('succeeded'),
        failed: count('failed'),
        skipped: count('skipped'),
        pending: count('planned') + count('enqueued'),
        failures: all
          .filter((slug) => slug.state === 'failed')
          .slice(0, 5)
          .map((slug) => ({ slug: slug.slug, reason: slug.reason ?? slug.outcome ?? 'failed' })),
        control: controlOf(wave),
      };
      const ring = wave.rings[input.ring];
      const moved =
        ring !== undefined &&
        (ring.succeeded !== observation.succeeded ||
          ring.failed !== observation.failed ||
          ring.skipped !== observation.skipped);
      if (moved) {
        const updated = await waves.update(input.waveId, (current) => ({
          ...current,
          updatedAt: input.now,
          rings: current.rings.map((r) =>
            r.index === input.ring
              ? {
                  ...r,
                  succeeded: observation.succeeded,
                  failed: observation.failed,
                  skipped: observation.skipped,
                  done: observation.succeeded + observation.failed + observation.skipped,
                }
              : r,
          ),
        }));
        if (updated) {
          await tell(updated);
          observation.control = controlOf(updated);
        }
      }
      return observation;
    },

    /**
     * Records the wave's status (and one ring's state and times), edits the chat message, and
     * answers the stored control. An ended status also gives the running slot back and marks the
     * rings that never ran. Safe to run twice: it sets values.
     */
    async report(input: WaveReportInput): Promise<WaveControlView> {
      const ended = ENDED_WAVE_STATUSES.has(input.status);
      const updated = await waves.update(input.waveId, (current) => {
        // An operator's pause shows as the status while the wave waits on it.
        const status = !ended && current.control?.paused ? 'paused' : input.status;
        const rings = current.rings.map((ring) => {
          if (input.ring && ring.index === input.ring.index) {
            return {
              ...ring,
              state: input.ring.state,
              ...(input.ring.startsAfter !== undefined ? { startsAfter: input.ring.startsAfter } : {}),
              ...(input.ring.startedAt !== undefined ? { startedAt: input.ring.startedAt } : {}),
              ...(input.ring.endedAt !== undefined ? { endedAt: input.ring.endedAt } : {}),
            };
          }
          if (
            ended &&
            (ring.state === 'pending' || ring.state === 'waiting' || ring.state === 'awaiting-approval')
          )
            return { ...ring, state: 'not-run' as const };
          return ring;
        });
        return {
          ...current,
          status,
          rings,
          updatedAt: input.now,
          reason: input.reason,
          ...(ended ? { endedAt: current.endedAt ?? input.now } : {}),
        };
      });
      if (!updated) throw new Error(`no wave ${input.waveId}`);
      if (ended) {
        await waves.releaseCurrent(input.waveId);
        log.info('upgrade wave ended', { waveId: input.waveId, status: input.status, reason: input.reason });
      }
      await tell(updated);
      return controlOf(updated);
    },

    /**
     * An operator's pause, resume or abort of a wave, stored on its record (the orchestration
     * reads it there; the event that follows only wakes it). An ended wave is not changed.
     */
    async control(input: {
      waveId: string;
      action: ControlAction;
      by: string;
      reason?: string | undefined;
      now: Date;
    }): Promise<ControlOutcome> {
      const wave = await waves.get(input.waveId);
      if (!wave) return { kind: 'not-found' };
      if (ENDED_WAVE_STATUSES.has(wave.status)) return { kind: 'ended', wave };
      const at = input.now.toISOString();
      const updated = await waves.update(input.waveId, (current) => {
        if (ENDED_WAVE_STATUSES.has(current.status)) return undefined;
        const aborted = input.action === 'abort' || (current.control?.aborted ?? false);
        return {
          ...current,
          updatedAt: at,
          control: {
            paused:
              input.action === 'pause'
                ? true
                : input.action === 'resume'
                  ? false
                  : (current.control?.paused ?? false),
            aborted,
            by: input.by,
            at,
            reason: input.reason,
          },
        };
      });
      if (!updated) return { kind: 'not-found' };
      if (ENDED_WAVE_STATUSES.has(updated.status)) return { kind: 'ended', wave: updated };
      log.info(`upgrade wave ${input.action}`, { waveId: input.waveId, by: input.by });
      return { kind: 'set', wave: updated };
    },
  };

  /** Records one slug's request as the broker's, then sends it (once); 'known' when an earlier attempt did. */
  async function enqueueOne(
    wave: WaveRecord,
    slug: WaveSlug,
    delayMs: number,
    now: string,
    queue: QueueSender,
  ): Promise<'enqueued' | 'known'> {
    const parsed = validateLifecycleRequest({
      schemaVersion: LIFECYCLE_REQUEST_SCHEMA_VERSION,
      requestId: slug.requestId,
      op: 'upgrade',
      slug: slug.slug,
      params: { targetVersion: wave.targetVersion },
      requestedBy: waveActor(wave.waveId),
      requestedAt: now,
    });
    if (!parsed.ok) throw new Error(`${parsed.code}: ${parsed.reason}`);
    const recorded = await requests.record(parsed.request, now, { origin: 'broker' });
    if (recorded.kind === 'conflict') {
      throw new Error(
        `requestId ${slug.requestId} is already used for ${recorded.record.op} ${recorded.record.slug}`,
      );
    }
    if (recorded.record.admitted || recorded.record.enqueued) return 'known';
    const visibilityTimeout = Math.ceil(delayMs / 1000);
    await withRetryAfter(
      () =>
        queue.sendMessage(JSON.stringify(parsed.request), visibilityTimeout > 0 ? { visibilityTimeout } : {}),
      deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    );
    await requests.update(slug.requestId, { enqueued: true });
    return 'enqueued';
  }

  /** How one enqueued slug's upgrade ended, or undefined while it has not. */
  async function endOf(
    slug: WaveSlug,
    record: EnvironmentRecord | undefined,
    lookAnyway: boolean,
  ): Promise<Pick<WaveSlug, 'state' | 'outcome' | 'reason'> | undefined> {
    const last = record?.upgrades?.last;
    if (last && last.requestId === slug.requestId) {
      const reason = last.reason;
      switch (last.outcome) {
        case 'upgraded':
        case 'up-to-date':
          return { state: 'succeeded', outcome: last.outcome, reason };
        case 'refused':
          return { state: 'skipped', outcome: last.outcome, reason: reason ?? 'refused' };
        default:
          return { state: 'failed', outcome: last.outcome, reason: reason ?? last.outcome };
      }
    }
    const operation = record?.lastOperation;
    const endedHere = operation?.requestId === slug.requestId && operation.outcome !== 'running';
    if (record && !endedHere && !lookAnyway) return undefined;
    const request = await requests.get(slug.requestId);
    if (!request || !TERMINAL_REQUEST_STATUSES.has(request.status)) return undefined;
    // Ended without an upgrade outcome on the record: it never got as far as the upgrade's own end.
    if (request.status === 'rejected')
      return { state: 'skipped', outcome: 'rejected', reason: request.reason ?? 'rejected' };
    if (request.status === 'failed')
      return { state: 'failed', outcome: 'failed', reason: request.reason ?? 'failed' };
    return { state: 'succeeded', outcome: 'succeeded', reason: request.summary };
  }
}

export type WaveSteps = ReturnType<typeof createWaveSteps>;
