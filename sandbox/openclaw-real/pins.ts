/**
 * The real OpenClaw releases the broker supports, and the Node.js runtime they run on here.
 *
 * Each is a published version of the npm package `openclaw` (`npm view openclaw versions --json`):
 * 2026.9.6 was `latest` when this list was last changed; 2026.8.2 is the release before it whose
 * config schema differs (top-level `worktreeRoot`, `gateway.portals` and the Control UI's keys
 * changed between them), so upgrades have a real pair to move between. Adding a version here and
 * running `npm run openclaw:install && npm run openclaw:generate` regenerates what the broker knows
 * about it (shared/openclaw/generated/); nothing about a version is written by hand.
 *
 * `openclaw` needs Node >= 24.16 (its `engines`); the broker's own tree runs on Node 22, so the
 * real versions get their own runtime: the platform package the `node` npm package would install
 * (`node-<platform>-<arch>`), which carries the binary and needs no install script.
 */
export const OPENCLAW_PINS = Object.freeze({
  versions: Object.freeze(['2026.8.2', '2026.9.6']),
  node: '24.22.3',
});
