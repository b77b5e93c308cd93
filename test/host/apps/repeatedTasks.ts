/**
 * Fan-in shapes for the host's repeated-task check (`durable.rejectRepeatedTasks`): the broken one
 * the provisioning used to have, and the ones durable-functions 3.5.0 sends correctly.
 */
import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';

df.app.activity('echoStep', { handler: (input: string) => input });

/** Broken on purpose: every round builds a new Task.any over all pending tasks, sent ones included. */
df.app.orchestration('brokenFanIn', function* (context: OrchestrationContext) {
  const pending: Task[] = ['a', 'b', 'c'].map((name) => context.df.callActivity('echoStep', name));
  const seen: string[] = [];
  while (pending.length > 0) {
    const winner = (yield context.df.Task.any(pending)) as Task;
    pending.splice(pending.indexOf(winner), 1);
    seen.push(winner.result as string);
  }
  return seen;
});

/** Broken on purpose: the same deadline timer in a second Task.any, as the approval used to do. */
df.app.orchestration('brokenDeadline', function* (context: OrchestrationContext) {
  const deadline = context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 60_000));
  yield context.df.Task.any([context.df.waitForExternalEvent('Decision'), deadline]);
  const winner = (yield context.df.Task.any([context.df.waitForExternalEvent('Decision'), deadline])) as Task;
  return winner === deadline ? 'expired' : 'decided';
});

/** Correct: one Task.any over tasks never sent, then each remaining task awaited on its own. */
df.app.orchestration('freshFanIn', function* (context: OrchestrationContext) {
  const pending: Task[] = ['a', 'b', 'c'].map((name) => context.df.callActivity('echoStep', name));
  const first = (yield context.df.Task.any(pending)) as Task;
  const seen = [first.result as string];
  for (const task of pending) if (task !== first) seen.push((yield task) as string);
  return seen.sort();
});

/** Correct: a batch Task.all. */
df.app.orchestration('batchFanIn', function* (context: OrchestrationContext) {
  const results = (yield context.df.Task.all(
    ['a', 'b', 'c'].map((name) => context.df.callActivity('echoStep', name)),
  )) as string[];
  return results;
});
