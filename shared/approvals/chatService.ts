import type { BrokerConfig } from '../config.js';
import { checkSlug } from '../domain/slug.js';
import type { Logger } from '../logger.js';
import type { AuditTrail, NewAuditEntry } from '../storage/auditTrail.js';
import type { EnvironmentRecord, EnvironmentRegistry } from '../storage/environmentRegistry.js';
import { NONCE_PATTERN, type NonceRecord, type NonceStore } from '../storage/nonceStore.js';
import type { TelegramClient } from '../telegram/telegramClient.js';
import {
  displayName,
  parseCommand,
  type TelegramCallbackQuery,
  type TelegramMessage,
  type TelegramUpdate,
  type TelegramUser,
} from '../telegram/updates.js';
import type { ApprovalService } from './approvalService.js';
import type { DevicePairingPort, PendingDevice } from './devicePairing.js';
import type { RefusalCoalescer } from './refusalCoalescer.js';
import type { Actor } from '../domain/actor.js';
import { messageOf } from '../errors.js';

export interface ChatServiceDeps {
  config: Pick<BrokerConfig, 'telegram'>;
  nonces: NonceStore;
  audit: AuditTrail;
  telegram: TelegramClient;
  registry: EnvironmentRegistry;
  approvals: ApprovalService;
  pairing: DevicePairingPort;
  /**
   * Refusals of people who may not act (outsiders, other chats): any member of a chat the bot is
   * in can send them, so per kind and window the first is audited in full and the rest counted
   * (the process-wide coalescer, like the webhook's for forged calls).
   */
  outsiders: RefusalCoalescer;
  now(): Date;
  log: Logger;
}

/** How long the Approve / Reject buttons of a listed pairing request work (OpenClaw's own expiry is shorter). */
export const PAIRING_BUTTON_TTL_MS = 15 * 60_000;
const MAX_LISTED_DEVICES = 10;

const HELP = [
  'Commands:',
  '/envs - every environment and its state',
  '/status <slug> - one environment',
  '/devices <slug> - pending device pairing requests, with Approve / Reject buttons',
].join('\n');

/**
 * What the broker does with an authenticated Telegram update (the webhook has checked the secret
 * token, the size, the shape and that the update is new): button presses decide approvals and
 * device pairings, commands from the admin chat answer from the registry or the gateway. Only the
 * configured approvers, in the admin chat, are served; everyone else is refused, audited and told
 * nothing. Every press is answered, whatever happens, so the presser's client stops spinning.
 */
export class ChatService {
  constructor(private readonly deps: ChatServiceDeps) {}

  async handle(update: TelegramUpdate): Promise<void> {
    if (update.callback_query) await this.handlePress(update.update_id, update.callback_query);
    else if (update.message) await this.handleMessage(update.update_id, update.message);
  }

  // ---- button presses ----

  private async handlePress(updateId: number, query: TelegramCallbackQuery): Promise<void> {
    let notice = 'Not allowed.';
    try {
      notice = await this.press(updateId, query);
    } finally {
      await this.answer(query.id, notice);
    }
  }

  /** Handles one press and returns the notice for the presser. */
  private async press(updateId: number, query: TelegramCallbackQuery): Promise<string> {
    const actor = telegramActor(query.from);
    const chatId = query.message?.chat.id;
    const refuse = async (reason: string, notice: string, extra: AuditTarget = {}) => {
      await this.audit({ updateId, actor, action: 'button', outcome: 'refused', reason, ...extra });
      return notice;
    };
    const who = this.whoMayAct(query.from, chatId);
    if (who) {
      if (await this.deps.outsiders.first(`button press: ${who.kind}`)) {
        await this.audit({ updateId, actor, action: 'button', outcome: 'refused', reason: who.reason });
      }
      return 'You are not allowed to decide this.';
    }
    const data = query.data ?? '';
    if (!NONCE_PATTERN.test(data)) return refuse('the button data is not a broker nonce', 'Unknown button.');
    const found = await this.deps.nonces.lookup(data);
    if (found.kind === 'unknown') return refuse('the button is unknown', 'Unknown button.');
    const about = auditTarget(found.record);
    if (found.kind === 'used') {
      return refuse(
        `the button was already used${found.record.usedBy ? ` by ${found.record.usedBy}` : ''} at ${found.record.usedAt ?? ''}`,
        'This button was already used.',
        about,
      );
    }
    if (found.kind === 'expired') {
      return refuse(`the button expired at ${found.record.expiresAt}`, 'This button has expired.', about);
    }
    const target = found.record.target;
    if (target.kind === 'approval') {
      const result = await this.deps.approvals.decide({
        requestId: target.requestId,
        actor,
        action: target.action,
        via: 'telegram',
        nonce: found.record,
        updateId,
      });
      return result.kind === 'recorded' ? capitalise(result.summary) : `Refused: ${result.reason}`;
    }
    return this.decidePairing(updateId, actor, query, found.record);
  }

  private async decidePairing(
    updateId: number,
    actor: Extract<Actor, { kind: 'telegram' }>,
    query: TelegramCallbackQuery,
    nonce: NonceRecord,
  ): Promise<string> {
    const target = nonce.target;
    if (target.kind !== 'pairing') return 'Unknown button.';
    const action = `pairing ${target.action}`;
    const base = { updateId, actor, action, slug: target.slug, pairingRequestId: target.pairingRequestId };
    if (!(await this.deps.nonces.consume(nonce, `telegram:${actor.id}`))) {
      await this.audit({ ...base, outcome: 'refused', reason: 'the button was already used' });
      return 'This button was already used.';
    }
    const environment = await this.liveEnvironment(target.slug);
    let line: string;
    let notice: string;
    if (typeof environment === 'string') {
      await this.audit({ ...base, outcome: 'failed', reason: environment });
      line = `Not done: ${environment}.`;
      notice = line;
    } else {
      try {
        if (target.action === 'approve')
          await this.deps.pairing.approve(environment, target.pairingRequestId);
        else await this.deps.pairing.reject(environment, target.pairingRequestId);
        const done = target.action === 'approve' ? 'APPROVED' : 'REJECTED';
        const at = this.deps.now().toISOString();
        line = `${done} by ${actor.name ?? actor.id} (telegram ${actor.id}) at ${at}.`;
        notice = `Device ${target.action === 'approve' ? 'approved' : 'rejected'}.`;
        await this.audit({
          ...base,
          outcome: target.action === 'approve' ? 'approved' : 'rejected',
          reason: `device ${target.device} on ${target.slug}`,
        });
      } catch (error) {
        const reason =
          error instanceof Error && error.name === 'GatewayAdminError'
            ? error.message
            : 'the gateway call failed';
        if (!(error instanceof Error && error.name === 'GatewayAdminError')) {
          this.deps.log.error('pairing decision failed', { slug: target.slug, error: errorText(error) });
        }
        await this.audit({ ...base, outcome: 'failed', reason });
        line = `Not done: ${reason}.`;
        notice = line;
      }
    }
    const message = query.message;
    if (message) {
      await this.edit(
        message.chat.id,
        message.message_id,
        `${pairingText(target.slug, target.device, target.pairingRequestId)}\n\n${line}`,
      );
    }
    return notice;
  }

  // ---- commands ----

  private async handleMessage(updateId: number, message: TelegramMessage): Promise<void> {
    const command = parseCommand(message.text);
    if (!command || !message.from) return; // chatter, not for the broker
    const actor = telegramActor(message.from);
    const action = `command /${command.command}`;
    const who = this.whoMayAct(message.from, message.chat.id);
    if (who) {
      if (await this.deps.outsiders.first(`command: ${who.kind}`)) {
        await this.audit({ updateId, actor, action, outcome: 'refused', reason: who.reason });
      }
      return;
    }
    const reply = (text: string) => this.send(message.chat.id, text);
    const slugArg = command.args[0];
    switch (command.command) {
      case 'envs': {
        const environments = await this.deps.registry.list();
        await reply(
          environments.length === 0
            ? 'No environments.'
            : [
                'Environments:',
                ...environments.map(
                  (e) =>
                    `${e.slug}: ${e.state}${e.openclawVersion ? `, ${e.openclawVersion}` : ''}${e.url ? `, ${e.url}` : ''}`,
                ),
              ].join('\n'),
        );
        await this.audit({
          updateId,
          actor,
          action,
          outcome: 'answered',
          reason: `${environments.length} environment(s)`,
        });
        return;
      }
      case 'status': {
        const slug = this.slugOf(slugArg);
        if (!slug.ok) {
          await reply(slug.reason);
          await this.audit({ updateId, actor, action, outcome: 'refused', reason: slug.reason });
          return;
        }
        const environment = await this.deps.registry.get(slug.slug);
        await reply(environment ? statusText(environment) : `No environment ${slug.slug}.`);
        await this.audit({
          updateId,
          actor,
          action,
          slug: slug.slug,
          outcome: 'answered',
          reason: environment ? `state ${environment.state}` : 'no such environment',
        });
        return;
      }
      case 'devices': {
        const slug = this.slugOf(slugArg);
        if (!slug.ok) {
          await reply(slug.reason);
          await this.audit({ updateId, actor, action, outcome: 'refused', reason: slug.reason });
          return;
        }
        await this.listDevices(updateId, actor, message.chat.id, slug.slug);
        return;
      }
      default:
        await reply(HELP);
    }
  }

  private async listDevices(
    updateId: number,
    actor: Extract<Actor, { kind: 'telegram' }>,
    chatId: number,
    slug: string,
  ): Promise<void> {
    const action = 'command /devices';
    const environment = await this.liveEnvironment(slug);
    if (typeof environment === 'string') {
      await this.send(chatId, `Cannot list devices: ${environment}.`);
      await this.audit({ updateId, actor, action, slug, outcome: 'refused', reason: environment });
      return;
    }
    let pending: PendingDevice[];
    try {
      pending = await this.deps.pairing.list(environment);
    } catch (error) {
      const reason =
        error instanceof Error && error.name === 'GatewayAdminError'
          ? error.message
          : 'the gateway call failed';
      if (!(error instanceof Error && error.name === 'GatewayAdminError')) {
        this.deps.log.error('device listing failed', { slug, error: errorText(error) });
      }
      await this.send(chatId, `Cannot list devices for ${slug}: ${reason}.`);
      await this.audit({ updateId, actor, action, slug, outcome: 'failed', reason });
      return;
    }
    if (pending.length === 0) {
      await this.send(chatId, `No pending pairing requests for ${slug}.`);
    } else {
      const shown = pending.slice(0, MAX_LISTED_DEVICES);
      await this.send(
        chatId,
        `${pending.length} pending pairing request(s) for ${slug}${pending.length > shown.length ? `; the newest ${shown.length} follow` : ''}:`,
      );
      const expiresAt = new Date(this.deps.now().getTime() + PAIRING_BUTTON_TTL_MS).toISOString();
      for (const device of shown) {
        const label = device.displayName ?? device.deviceId.slice(0, 12);
        const target = (act: 'approve' | 'reject') => ({
          kind: 'pairing' as const,
          slug,
          pairingRequestId: device.requestId,
          device: label,
          action: act,
        });
        // One question, one answer: pressing either button uses up both.
        const [approve, reject] = await this.deps.nonces.mintPair(
          target('approve'),
          target('reject'),
          expiresAt,
        );
        await this.deps.telegram.sendMessage({
          chatId,
          text: pairingText(slug, label, device.requestId, device),
          buttons: [
            [
              { text: 'Approve', data: approve },
              { text: 'Reject', data: reject },
            ],
          ],
        });
      }
    }
    await this.audit({
      updateId,
      actor,
      action,
      slug,
      outcome: 'answered',
      reason: `${pending.length} pending pairing request(s)`,
    });
  }

  // ---- helpers ----

  /** Why this user in this chat may not act, or undefined when they may. */
  private whoMayAct(
    from: TelegramUser,
    chatId: number | undefined,
  ): { kind: 'not an approver' | 'not the admin chat'; reason: string } | undefined {
    if (!this.deps.config.telegram.approverIds.includes(String(from.id))) {
      return { kind: 'not an approver', reason: `telegram user ${from.id} is not an approver` };
    }
    if (chatId === undefined || String(chatId) !== this.deps.config.telegram.adminChatId) {
      return { kind: 'not the admin chat', reason: `chat ${chatId ?? '(none)'} is not the admin chat` };
    }
    return undefined;
  }

  private slugOf(arg: string | undefined): { ok: true; slug: string } | { ok: false; reason: string } {
    if (!arg) return { ok: false, reason: 'Give a slug, e.g. /status acme.' };
    const check = checkSlug(arg);
    return check.ok ? { ok: true, slug: check.slug } : { ok: false, reason: `Invalid slug: ${check.reason}` };
  }

  /** The environment if it exists and its gateway can be asked, else why not. */
  private async liveEnvironment(slug: string): Promise<EnvironmentRecord | string> {
    const environment = await this.deps.registry.get(slug);
    if (!environment || environment.state === 'deleted') return `no environment ${slug}`;
    if (!environment.url) return `environment ${slug} is ${environment.state} and has no gateway yet`;
    return environment;
  }

  private async audit(
    entry: Omit<NewAuditEntry, 'channel' | 'actor' | 'actorName'> & {
      actor: Extract<Actor, { kind: 'telegram' }>;
    },
  ) {
    const { actor, ...rest } = entry;
    await this.deps.audit.add({
      ...rest,
      channel: 'telegram',
      actor: `telegram:${actor.id}`,
      actorName: actor.name,
    });
  }

  private async answer(callbackQueryId: string, text: string): Promise<void> {
    try {
      await this.deps.telegram.answerCallbackQuery({ callbackQueryId, text });
    } catch (error) {
      // A forged or stale query id cannot be answered; the press was handled all the same.
      this.deps.log.warn('answering a button press failed', { error: errorText(error) });
    }
  }

  private async send(chatId: number, text: string): Promise<void> {
    await this.deps.telegram.sendMessage({ chatId, text });
  }

  private async edit(chatId: number, messageId: number, text: string): Promise<void> {
    try {
      await this.deps.telegram.editMessageText({ chatId, messageId, text });
    } catch (error) {
      this.deps.log.warn('editing a chat message failed', { error: errorText(error) });
    }
  }
}

function telegramActor(from: TelegramUser): Extract<Actor, { kind: 'telegram' }> {
  return { kind: 'telegram', id: String(from.id), name: displayName(from).slice(0, 64) };
}

type AuditTarget = Pick<NewAuditEntry, 'requestId' | 'slug' | 'pairingRequestId'>;

function auditTarget(record: NonceRecord): AuditTarget {
  const target = record.target;
  return target.kind === 'approval'
    ? { requestId: target.requestId }
    : { slug: target.slug, pairingRequestId: target.pairingRequestId };
}

function pairingText(slug: string, device: string, requestId: string, details?: PendingDevice): string {
  const lines = [`Pairing request on ${slug}: ${device}`];
  if (details?.platform) lines.push(`platform ${details.platform}`);
  if (details?.remoteIp) lines.push(`from ${details.remoteIp}`);
  if (details?.isRepair) lines.push('(re-pairing a known device)');
  lines.push(`request ${requestId}`);
  return lines.join('\n');
}

function statusText(environment: EnvironmentRecord): string {
  const lines = [`${environment.slug}: ${environment.state}`];
  if (environment.openclawVersion) lines.push(`version ${environment.openclawVersion}`);
  if (environment.url) lines.push(`url ${environment.url}`);
  if (environment.progress && environment.currentStep) {
    lines.push(
      `step ${environment.currentStep} (${environment.progress.done}/${environment.progress.total})`,
    );
  }
  const last = environment.lastOperation;
  if (last)
    lines.push(
      `last operation: ${last.op} ${last.outcome} at ${last.at}${last.reason ? ` (${last.reason})` : ''}`,
    );
  if (environment.owners.length > 0) lines.push(`owners ${environment.owners.join(', ')}`);
  lines.push(`updated ${environment.updatedAt}`);
  return lines.join('\n');
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function errorText(error: unknown): string {
  return messageOf(error);
}
