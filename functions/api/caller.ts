import type { HttpResponseInit } from '@azure/functions';
import type { BrokerConfig } from '../../shared/config.js';
import { ErrorCodes } from '../../shared/errors.js';
import { operatorOf, type CallerRequest, type Operator } from '../../shared/approvals/operatorIdentity.js';
import { problem } from './problem.js';

type OperatorsConfig = BrokerConfig['operators'];

/**
 * Who calls an HTTP route: the one helper every route asks. The identity comes from `request.user`
 * of @azure/functions (Easy Auth's `x-ms-client-principal`, decoded by the library) or from the
 * function key's configured identity, decided in shared/approvals/operatorIdentity.ts; never from
 * the body or a header read by hand.
 */
export type Caller = { ok: true; operator: Operator } | { ok: false; response: HttpResponseInit };

/** The calling operator, or the 401 to answer when Easy Auth is on and the platform set no principal. */
export function callerOf(request: CallerRequest, operators: OperatorsConfig): Caller {
  const operator = operatorOf(request, operators);
  if (!operator) {
    return {
      ok: false,
      response: problem(ErrorCodes.Unauthenticated, 'no authenticated operator on this call', {}, 401),
    };
  }
  return { ok: true, operator };
}

/**
 * Who made a change that is only recorded, not authorised, by the caller's identity (a sweep
 * switch): the operator's name, or `unauthenticated`.
 */
export function callerLabel(request: CallerRequest, operators: OperatorsConfig): string {
  const operator = operatorOf(request, operators);
  return operator ? (operator.name ?? operator.id) : 'unauthenticated';
}
