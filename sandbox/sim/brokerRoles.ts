import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { findBuiltInRole } from './arm/roles.js';

/** The file infra/main.bicep deploys the broker's roles from (loadJsonContent); the one source. */
export const brokerRolesPath = fileURLToPath(new URL('../../infra/brokerRoles.json', import.meta.url));

const guid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
const brokerRolesSchema = z.object({
  roles: z.array(
    z
      .object({
        roleName: z.string().min(1),
        roleDefinitionId: guid,
        conditionVersion: z.literal('2.0').optional(),
        condition: z.array(z.string()).min(1).optional(),
      })
      .refine((role) => (role.condition === undefined) === (role.conditionVersion === undefined), {
        message: 'condition and conditionVersion go together',
      }),
  ),
});

/** The broker's subscription-scope roles, each with its optional ABAC condition (as lines). */
export type BrokerRoles = z.infer<typeof brokerRolesSchema>;

/** Reads and checks the broker's roles; throws naming the file and the problem. */
export function loadBrokerRoles(path = brokerRolesPath): BrokerRoles {
  const parsed = brokerRolesSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path}: ${parsed.error.message}`);
  return parseBrokerRoles(parsed.data, path);
}

/** Checks roles given in code (tests take the file and change it); every role must be simulated. */
export function parseBrokerRoles(value: unknown, source = 'brokerRoles'): BrokerRoles {
  const parsed = brokerRolesSchema.safeParse(value);
  if (!parsed.success) throw new Error(`${source}: ${parsed.error.message}`);
  for (const role of parsed.data.roles) {
    if (!findBuiltInRole(role.roleDefinitionId))
      throw new Error(`${source}: role ${role.roleName} (${role.roleDefinitionId}) is not simulated`);
  }
  return parsed.data;
}

/** The condition as deployed: lines joined with a space, the broker's object id filled in (as Bicep does). */
export function deployedCondition(
  role: BrokerRoles['roles'][number],
  brokerObjectId: string,
): { condition: string; conditionVersion: string } | undefined {
  if (role.condition === undefined) return undefined;
  return {
    condition: role.condition.join(' ').replaceAll('{brokerPrincipalId}', brokerObjectId),
    conditionVersion: role.conditionVersion ?? '2.0',
  };
}
