/**
 * Azure ABAC role-assignment conditions (conditionVersion 2.0), the subset that delegates role
 * assignment management: `ActionMatches{'...'}`, `@Request[...]` / `@Resource[...]` attributes,
 * the operators `GuidEquals`, `StringEquals`, `StringEqualsIgnoreCase` (also with the
 * `ForAnyOfAnyValues:` prefix, and their `GuidNotEquals` / `StringNotEquals` forms), `AND`/`&&`,
 * `OR`/`||`, `NOT`/`!` and parentheses. Sources: learn.microsoft.com
 * azure/role-based-access-control/conditions-format (syntax, operators, precedence NOT > AND > OR)
 * and conditions-authorization-actions-attributes (the attributes of roleAssignments write and
 * delete). An attribute the request lacks makes its comparison false. A condition the parser does
 * not understand is an error, never "allowed".
 */
export interface ConditionInput {
  action: string;
  /** Attribute name (`Microsoft.Authorization/roleAssignments:RoleDefinitionId`) to its values. */
  request?: Record<string, string[]>;
  resource?: Record<string, string[]>;
}

type Node =
  | { kind: 'and' | 'or'; left: Node; right: Node }
  | { kind: 'not'; operand: Node }
  | { kind: 'action'; pattern: string }
  | {
      kind: 'compare';
      source: 'Request' | 'Resource';
      attribute: string;
      operator: string;
      values: string[];
    };

type Token = { type: 'word' | 'string' | 'punct' | 'attr'; text: string };

export class ConditionSyntaxError extends Error {
  override name = 'ConditionSyntaxError';
}

function tokenize(condition: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < condition.length) {
    const c = condition[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      const end = condition.indexOf("'", i + 1);
      if (end < 0) throw new ConditionSyntaxError(`unterminated string at ${i}`);
      tokens.push({ type: 'string', text: condition.slice(i + 1, end) });
      i = end + 1;
    } else if (c === '@') {
      const match = /^@(\w+)\[([^\]]+)\]/.exec(condition.slice(i));
      if (!match) throw new ConditionSyntaxError(`malformed attribute at ${i}`);
      tokens.push({ type: 'attr', text: `${match[1]!}|${match[2]!}` });
      i += match[0].length;
    } else if (condition.startsWith('&&', i) || condition.startsWith('||', i)) {
      tokens.push({ type: 'word', text: condition.startsWith('&&', i) ? 'AND' : 'OR' });
      i += 2;
    } else if ('(){},!'.includes(c)) {
      tokens.push({ type: 'punct', text: c });
      i++;
    } else {
      const match = /^[\w:.\-/]+/.exec(condition.slice(i));
      if (!match) throw new ConditionSyntaxError(`unexpected '${c}' at ${i}`);
      tokens.push({ type: 'word', text: match[0] });
      i += match[0].length;
    }
  }
  return tokens;
}

/** Parses a condition; throws ConditionSyntaxError naming the problem. */
export function parseCondition(condition: string): Node {
  const tokens = tokenize(condition);
  let position = 0;
  const peek = () => tokens[position];
  const next = () => {
    const token = tokens[position++];
    if (!token) throw new ConditionSyntaxError('unexpected end of condition');
    return token;
  };
  const expect = (text: string) => {
    const token = next();
    if (token.text !== text) throw new ConditionSyntaxError(`expected '${text}', found '${token.text}'`);
  };
  const isWord = (token: Token | undefined, word: string) =>
    token?.type === 'word' && token.text.toUpperCase() === word;

  function orExpression(): Node {
    let left = andExpression();
    while (isWord(peek(), 'OR')) {
      next();
      left = { kind: 'or', left, right: andExpression() };
    }
    return left;
  }
  function andExpression(): Node {
    let left = unary();
    while (isWord(peek(), 'AND')) {
      next();
      left = { kind: 'and', left, right: unary() };
    }
    return left;
  }
  function unary(): Node {
    const token = peek();
    if (token?.text === '!' || isWord(token, 'NOT')) {
      next();
      return { kind: 'not', operand: unary() };
    }
    return primary();
  }
  function values(): string[] {
    const token = next();
    if (token.text !== '{') {
      if (token.type === 'punct') throw new ConditionSyntaxError(`expected a value, found '${token.text}'`);
      return [token.text];
    }
    const list: string[] = [];
    for (;;) {
      const item = next();
      if (item.type === 'punct') throw new ConditionSyntaxError(`expected a value, found '${item.text}'`);
      list.push(item.text);
      const separator = next();
      if (separator.text === '}') return list;
      if (separator.text !== ',')
        throw new ConditionSyntaxError(`expected ',' or '}', found '${separator.text}'`);
    }
  }
  function primary(): Node {
    const token = next();
    if (token.text === '(') {
      const inner = orExpression();
      expect(')');
      return inner;
    }
    if (isWord(token, 'ACTIONMATCHES')) {
      expect('{');
      const pattern = next();
      if (pattern.type !== 'string') throw new ConditionSyntaxError('ActionMatches needs a quoted action');
      expect('}');
      return { kind: 'action', pattern: pattern.text };
    }
    if (token.type === 'attr') {
      const [source, attribute] = token.text.split('|') as [string, string];
      if (source !== 'Request' && source !== 'Resource')
        throw new ConditionSyntaxError(`attribute source @${source} is not supported here`);
      const operator = next();
      if (operator.type !== 'word') throw new ConditionSyntaxError(`expected an operator after @${source}`);
      return { kind: 'compare', source, attribute, operator: operator.text, values: values() };
    }
    throw new ConditionSyntaxError(`unexpected '${token.text}'`);
  }

  const tree = orExpression();
  if (position < tokens.length)
    throw new ConditionSyntaxError(`unexpected '${tokens[position]!.text}' after the condition`);
  return tree;
}

function compare(operator: string, actual: string[] | undefined, wanted: string[]): boolean {
  const [quantifier, name] = operator.includes(':') ? operator.split(':', 2) : [undefined, operator];
  if (quantifier !== undefined && quantifier.toLowerCase() !== 'foranyofanyvalues')
    throw new ConditionSyntaxError(`operator ${operator} is not supported`);
  if (!actual || actual.length === 0) return false;
  const equal = (a: string, b: string): boolean => {
    switch (name.replace(/Not/, '').toLowerCase()) {
      case 'guidequals':
      case 'stringequalsignorecase':
        return a.toLowerCase() === b.toLowerCase();
      case 'stringequals':
        return a === b;
      default:
        throw new ConditionSyntaxError(`operator ${operator} is not supported`);
    }
  };
  const negated = /Not/.test(name);
  const any = actual.some((value) => wanted.some((candidate) => equal(value, candidate)));
  return negated ? !any : any;
}

function actionMatches(pattern: string, action: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
      .join('.*')}$`,
    'i',
  );
  return regex.test(action);
}

function evaluateNode(node: Node, input: ConditionInput): boolean {
  switch (node.kind) {
    case 'and':
      return evaluateNode(node.left, input) && evaluateNode(node.right, input);
    case 'or':
      return evaluateNode(node.left, input) || evaluateNode(node.right, input);
    case 'not':
      return !evaluateNode(node.operand, input);
    case 'action':
      return actionMatches(node.pattern, input.action);
    case 'compare': {
      const attributes = node.source === 'Request' ? input.request : input.resource;
      const key = Object.keys(attributes ?? {}).find(
        (name) => name.toLowerCase() === node.attribute.toLowerCase(),
      );
      return compare(node.operator, key === undefined ? undefined : attributes![key], node.values);
    }
  }
}

/** Whether the condition holds for this request. Throws ConditionSyntaxError for a malformed one. */
export function evaluateCondition(condition: string, input: ConditionInput): boolean {
  return evaluateNode(parseCondition(condition), input);
}
