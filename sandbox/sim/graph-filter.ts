/**
 * The small part of OData `$filter` that Entra wiring uses: `prop eq 'value'`,
 * `startswith(prop,'value')` and `prop in ('a','b')`, joined with `and`. String literals use OData
 * quoting ('' is one quote); comparisons ignore case, as Entra's do. Anything else is refused the way Graph refuses it.
 */

export type FilterPredicate = (item: Record<string, unknown>) => boolean;

export class FilterError extends Error {
  constructor(
    readonly code: 'Request_UnsupportedQuery' | 'BadRequest',
    message: string,
  ) {
    super(message);
    this.name = 'FilterError';
  }
}

const LITERAL = "'((?:[^']|'')*)'";
const EQ = new RegExp(`^([A-Za-z][A-Za-z0-9]*)\\s+eq\\s+${LITERAL}$`);
const STARTS_WITH = new RegExp(`^startswith\\(\\s*([A-Za-z][A-Za-z0-9]*)\\s*,\\s*${LITERAL}\\s*\\)$`);
const IN = new RegExp(`^([A-Za-z][A-Za-z0-9]*)\\s+in\\s+\\((.*)\\)$`);
const LITERAL_ITEM = new RegExp(`^\\s*${LITERAL}\\s*$`);

const unquote = (value: string) => value.replace(/''/g, "'");

/** Splits on ` and ` outside string literals. */
function splitAnd(filter: string): string[] {
  const clauses: string[] = [];
  let current = '';
  let inString = false;
  for (let i = 0; i < filter.length; i += 1) {
    const char = filter[i] ?? '';
    if (char === "'") inString = !inString;
    if (!inString && /^\s+and\s+/i.test(filter.slice(i)) && /\s/.test(char)) {
      clauses.push(current.trim());
      current = '';
      i += (/^\s+and\s+/i.exec(filter.slice(i))?.[0].length ?? 1) - 1;
      continue;
    }
    current += char;
  }
  clauses.push(current.trim());
  return clauses;
}

/**
 * Compiles a `$filter` for a resource whose filterable string properties are `properties`.
 * Throws FilterError with Graph's error code when the filter is unsupported or malformed.
 */
export function compileFilter(
  filter: string,
  resource: string,
  properties: readonly string[],
): FilterPredicate {
  const predicates = splitAnd(filter).map((clause): FilterPredicate => {
    let property: string | undefined;
    let test: ((value: string) => boolean) | undefined;
    const eq = EQ.exec(clause);
    const startsWith = STARTS_WITH.exec(clause);
    const inList = IN.exec(clause);
    if (eq) {
      property = eq[1];
      const expected = unquote(eq[2] ?? '').toLowerCase();
      test = (value) => value.toLowerCase() === expected;
    } else if (startsWith) {
      property = startsWith[1];
      const prefix = unquote(startsWith[2] ?? '').toLowerCase();
      test = (value) => value.toLowerCase().startsWith(prefix);
    } else if (inList) {
      property = inList[1];
      const items = (inList[2] ?? '').split(',').map((item) => LITERAL_ITEM.exec(item));
      if (items.some((item) => !item))
        throw new FilterError('BadRequest', `Invalid filter clause: ${clause}`);
      const expected = new Set(items.map((item) => unquote(item?.[1] ?? '').toLowerCase()));
      test = (value) => expected.has(value.toLowerCase());
    }
    if (property === undefined || test === undefined) {
      throw new FilterError('BadRequest', `Invalid filter clause: ${clause}`);
    }
    if (!properties.includes(property)) {
      throw new FilterError(
        'Request_UnsupportedQuery',
        `Unsupported or invalid query filter clause specified for property '${property}' of resource '${resource}'.`,
      );
    }
    const name = property;
    const check = test;
    return (item) => {
      const value = item[name];
      return typeof value === 'string' && check(value);
    };
  });
  return (item) => predicates.every((predicate) => predicate(item));
}
