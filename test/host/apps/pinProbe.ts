/** Orchestrations whose replay the pinned-internals test inspects directly. */
import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';

df.app.orchestration('probeRetryAndLongTimer', function* (context: OrchestrationContext) {
  const longTimer = context.df.createTimer(
    new Date(context.df.currentUtcDateTime.getTime() + 10 * 24 * 3600_000),
  );
  const retried = context.df.callActivityWithRetry('probeActivity', new df.RetryOptions(1000, 2), 'x');
  yield context.df.Task.all([longTimer, retried]);
  return 'never';
});

df.app.orchestration('probeFailure', function* (context: OrchestrationContext) {
  yield context.df.callActivity('probeActivity');
  throw new Error('probe failure message');
});
