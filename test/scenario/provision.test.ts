import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProvisionWorld } from './provisionWorld.js';

let world: ProvisionWorld;
const BOT_TOKEN = '7000000042:AAH0scenarioFakeBotTokenValue0123456789';

beforeAll(async () => {
  world = await ProvisionWorld.start();
});

afterAll(async () => {
  await world?.stop();
});

describe('provisioning a slug on the local host against the simulated Azure', () => {
  it('creates the footprint and ends ready with the gateway answering /readyz', async () => {
    const ref = await world.stageSecret('stage-acme-telegram', BOT_TOKEN);
    const view = await world.provision('acme', 'prov-acme-1', { telegramBotToken: { secretRef: ref } });
    expect(view, JSON.stringify(view)).toMatchObject({ status: 'succeeded' });
  });
});
