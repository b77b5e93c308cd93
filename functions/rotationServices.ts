import { AzureClients } from '../shared/azure/azureClients.js';
import { brokerCredential, brokerPrincipalId } from '../shared/azure/credential.js';
import { EntraClient } from '../shared/azure/entra.js';
import { probeGateway } from '../shared/azure/gatewayProbe.js';
import { telegramAdminChat } from '../shared/rotation/adminChat.js';
import {
  createRotationSteps,
  type MaintenanceDependencies,
  type RotationSteps,
} from '../shared/rotation/rotationSteps.js';
import { createSasSteps, type SasSteps } from '../shared/sas/sasSteps.js';
import { ArmWriteGate } from '../shared/sweeps/armWriteGate.js';
import { approvalServices } from './approvalServices.js';
import { services } from './services.js';

let built: { rotation: RotationSteps; sas: SasSteps } | undefined;

/**
 * The maintenance steps (rotation, SAS renewal) over the app's Azure clients, Graph, the registry
 * and the admin chat (the broker's Telegram bot, shared with approvals), built on first use.
 */
export function maintenanceSteps(): { rotation: RotationSteps; sas: SasSteps } {
  if (!built) {
    const { config, registry } = services();
    const credential = brokerCredential(config);
    const deps: MaintenanceDependencies = {
      config,
      registry,
      azure: new AzureClients(config, credential),
      entra: new EntraClient(credential, config.azure.graphEndpoint),
      chat: telegramAdminChat(approvalServices().telegram, config.telegram.adminChatId),
      probe: probeGateway,
      // Keeps what ARM's write bucket (200) holds beyond the sweeps' burst for everything else.
      armWrites: new ArmWriteGate({
        reserve: Math.max(1, 200 - config.sweeps.armWriteBurst),
        refillPerSecond: config.sweeps.armWritesPerSecond,
      }),
    };
    built = {
      rotation: createRotationSteps(deps),
      sas: createSasSteps({ ...deps, brokerPrincipalId: () => brokerPrincipalId(config, credential) }),
    };
  }
  return built;
}
