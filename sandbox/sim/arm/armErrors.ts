import { SimHttpError } from '../surface.js';

/** An error in ARM's wire shape: `{ error: { code, message } }`. */
export function armError(
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
  details?: unknown[],
): SimHttpError {
  return new SimHttpError(status, { error: { code, message, ...(details ? { details } : {}) } }, headers);
}

export function resourceNotFound(
  type: string,
  name: string,
  resourceGroup: string | undefined,
): SimHttpError {
  return armError(
    404,
    'ResourceNotFound',
    `The Resource '${type}/${name}' under resource group '${resourceGroup ?? ''}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );
}

export function resourceGroupNotFound(name: string): SimHttpError {
  return armError(404, 'ResourceGroupNotFound', `Resource group '${name}' could not be found.`);
}

export function invalidRequestContent(message: string): SimHttpError {
  return armError(400, 'InvalidRequestContent', message);
}
