/** A plain sequence of activities and a fan-out/fan-in, as production orchestrations are written. */
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';

/** How often each activity ran in this process (tests assert exactly-once execution). */
export const activityRuns = new Map<string, number>();

function counted(name: string): void {
  activityRuns.set(name, (activityRuns.get(name) ?? 0) + 1);
}

df.app.activity('greet', {
  handler: (name: string, context: InvocationContext) => {
    counted('greet');
    context.log(`greeting ${name}`);
    return `Hello ${name}`;
  },
});

df.app.activity('double', {
  handler: (value: number) => {
    counted('double');
    return value * 2;
  },
});

df.app.orchestration('greetCities', function* (context: OrchestrationContext) {
  const cities = context.df.getInput<string[]>();
  const greetings: string[] = [];
  for (const city of cities) {
    greetings.push((yield context.df.callActivity('greet', city)) as string);
  }
  return greetings;
});

df.app.orchestration('fanOutFanIn', function* (context: OrchestrationContext) {
  const values = context.df.getInput<number[]>();
  context.df.setCustomStatus({ phase: 'fanning out', count: values.length });
  const doubled = (yield context.df.Task.all(
    values.map((value) => context.df.callActivity('double', value)),
  )) as number[];
  context.df.setCustomStatus({ phase: 'done' });
  return doubled.reduce((sum, value) => sum + value, 0);
});

df.app.orchestration('replayAware', function* (context: OrchestrationContext) {
  const startedAt = context.df.currentUtcDateTime.toISOString();
  yield context.df.callActivity('greet', 'replay');
  return {
    startedAt,
    now: context.df.currentUtcDateTime.toISOString(),
    guid: context.df.newGuid(context.df.instanceId),
  };
});
