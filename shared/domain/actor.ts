/** Who acts on an approval, in the approval records and the audit trail (names and ids only). */

/** Who made a decision: a Telegram approver (by user id), an operator (by principal) or the broker. */
export type Actor =
  | { kind: 'telegram'; id: string; name?: string | undefined }
  | { kind: 'operator'; id: string; name?: string | undefined }
  | { kind: 'system'; id: string };

/** One approval given towards the policy's count. */
export interface ApprovalVote {
  by: Actor;
  at: string;
  via: 'telegram' | 'api';
}
