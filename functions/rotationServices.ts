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
      // Sweeps start maintenance by the fleet: it leaves a share of ARM's buckets to the foreground.
      azure: new AzureClients(config, credential, { priority: 'background' }),
      entra: new EntraClient(credential, config.azure.graphEndpoint),
      chat: telegramAdminChat(approvalServices().telegram, config.telegram.adminChatId),
      probe: probeGateway,
    };
    built = {
      rotation: createRotationSteps(deps),
      sas: createSasSteps({ ...deps, brokerPrincipalId: () => brokerPrincipalId(config, credential) }),
    };
  }
  return built;
}
