/**
 * Local host throughput: orchestration episodes per second for a 20-step orchestration on the
 * in-memory store (baseline: a 1-step orchestration), and the replay cost per history event of the
 * 20-step orchestration's full history (baseline: the 1-step history), measured by calling the
 * registered orchestrator handler the way the host does.
 */
import { performance } from 'node:perf_hooks';
import { InvocationContext } from '../../sandbox/host/azureFunctions.js';
import { EventType, registeredFunctions, startLocalHost, type LocalHost } from '../../sandbox/host/index.js';
import type { BenchOptions, BenchResult, BenchSize } from './runner.js';

const SIZES = { full: { instances: 40, replays: 300 }, smoke: { instances: 5, replays: 20 } };
let INSTANCES = SIZES.full.instances;
let REPLAYS = SIZES.full.replays;

export const timeLimitMs = (size: BenchSize) => (size === 'smoke' ? 120_000 : 600_000);

export async function run(options: BenchOptions): Promise<BenchResult[]> {
  ({ instances: INSTANCES, replays: REPLAYS } = SIZES[options.size]);
  const host = await startLocalHost({
    app: () => import('../host/apps/bench.js'),
    storage: 'memory',
    port: 0,
    taskHub: 'BenchHub',
    hostJson: {
      extensions: {
        durableTask: { maxConcurrentActivityFunctions: 10, maxConcurrentOrchestratorFunctions: 10 },
      },
    },
  });
  try {
    await episodesPerSecond(host, 'benchOneStep', 'warmup');
    const oneStep = await episodesPerSecond(host, 'benchOneStep', 'one');
    const twentySteps = await episodesPerSecond(host, 'benchTwentySteps', 'twenty');
    const replayOne = replayCostPerEvent(host, 'benchOneStep', 'one-0');
    const replayTwenty = replayCostPerEvent(host, 'benchTwentySteps', 'twenty-0');
    return [
      {
        name: 'episodes/s, 20-step orchestration (in-memory store)',
        value: twentySteps,
        unit: 'episodes/s',
        baseline: { name: '1-step orchestration', value: oneStep },
      },
      {
        name: `replay cost per history event, 20-step history (${replayTwenty.events} events)`,
        value: replayTwenty.microsPerEvent,
        unit: 'µs/event',
        baseline: { name: `1-step history (${replayOne.events} events)`, value: replayOne.microsPerEvent },
      },
    ];
  } finally {
    await host.stop();
  }
}

async function episodesPerSecond(host: LocalHost, orchestration: string, prefix: string): Promise<number> {
  const started = performance.now();
  await Promise.all(
    Array.from({ length: INSTANCES }, async (_, i) => {
      const response = await fetch(
        `${host.baseUrl}/durabletask/orchestrators/${orchestration}/${prefix}-${i}`,
        {
          method: 'POST',
          headers: { 'x-functions-key': host.systemKey },
        },
      );
      if (response.status !== 202) throw new Error(`start failed: ${response.status}`);
    }),
  );
  for (let i = 0; i < INSTANCES; i++) {
    const status = await host.waitForInstance(`${prefix}-${i}`, { timeoutMs: 120_000 });
    if (status.runtimeStatus !== 'Completed') throw new Error(`${prefix}-${i} ended ${status.runtimeStatus}`);
  }
  const seconds = (performance.now() - started) / 1000;
  let episodes = 0;
  for (let i = 0; i < INSTANCES; i++) {
    episodes += host
      .timeline(`${prefix}-${i}`)
      .filter((entry) => entry.eventType === 'OrchestratorStarted').length;
  }
  return episodes / seconds;
}

function replayCostPerEvent(host: LocalHost, orchestration: string, instanceId: string) {
  const registration = registeredFunctions().get(orchestration);
  if (!registration) throw new Error(`${orchestration} is not registered`);
  // Replay the last episode: the full history minus its closing events, as the final episode saw it.
  const full = host.history(instanceId);
  const lastStart = full.map((event) => event.EventType).lastIndexOf(EventType.OrchestratorStarted);
  const history = full.slice(
    0,
    full.findIndex(
      (event, index) => index > lastStart && event.EventType === EventType.OrchestratorCompleted,
    ),
  );
  const handler = registration.handler as (input: unknown, context: unknown) => Promise<unknown>;
  const replay = () =>
    handler(
      {
        history: history.map((event, index) => ({ ...event, IsPlayed: index < lastStart })),
        input: null,
        instanceId,
        isReplaying: true,
        upperSchemaVersion: 2,
        maximumShortTimerDuration: '6.00:00:00',
        longRunningTimerIntervalDuration: '3.00:00:00',
      },
      new InvocationContext({ functionName: orchestration }),
    );
  return { events: history.length, microsPerEvent: measure(replay, history.length) };
}

function measure(replay: () => Promise<unknown>, events: number): number {
  // The handler is async but does no I/O; awaiting each call would measure the microtask queue.
  const promises: Promise<unknown>[] = [];
  for (let i = 0; i < 50; i++) promises.push(replay());
  const started = performance.now();
  for (let i = 0; i < REPLAYS; i++) promises.push(replay());
  const elapsed = performance.now() - started;
  void Promise.all(promises);
  return (elapsed * 1000) / (REPLAYS * events);
}
