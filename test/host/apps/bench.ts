/** Orchestrations for test/bench/host.bench.ts: N sequential no-op activities. */
import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';

df.app.activity('benchNoop', { handler: (step: number) => step });

function steps(count: number) {
  return function* (context: OrchestrationContext) {
    let total = 0;
    for (let step = 0; step < count; step++)
      total += (yield context.df.callActivity('benchNoop', step)) as number;
    return total;
  };
}

df.app.orchestration('benchOneStep', steps(1));
df.app.orchestration('benchTwentySteps', steps(20));
