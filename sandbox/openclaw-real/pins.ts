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
  /**
   * The Microsoft Teams channel plugin each version starts with. Neither release's npm package
   * bundles it (its docs: "On an older build or a custom install that excludes bundled Teams,
   * install the npm package directly: openclaw plugins install @openclaw/msteams"); a gateway with
   * `channels.msteams` fetches it from npm at its first start. The published versions
   * (`npm view @openclaw/msteams versions`) are 2026.6.11, 2026.7.1, 2026.7.35, 2026.9.4 and
   * 2026.9.5. 2026.9.6 starts with 2026.9.5 (peer `openclaw >=2026.9.5`). 2026.8.2 has none: the
   * 2026.9.x plugins need a newer host, and with 2026.7.35 (peer `>=2026.7.35`) the real gateway
   * refuses to get ready ("OpenClaw startup migrations did not complete cleanly ... Failed detecting
   * Microsoft Teams feedback learnings: SessionStoreAgentIdRequiredError"), so the broker refuses
   * Teams on 2026.8.2 (generated `teamsPlugin: null`).
   */
  msteamsPlugin: Object.freeze({ '2026.9.6': '2026.9.5' } as Record<string, string>),
});
