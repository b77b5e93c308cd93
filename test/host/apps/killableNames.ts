/** Names shared by the killable app and the test that kills its host (importing the app registers it). */
export const RUNS_TABLE = 'activityRuns';
export const GATE_CONTAINER = 'killtest';
