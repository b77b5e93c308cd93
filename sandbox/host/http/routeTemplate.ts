/**
 * ASP.NET-style route templates as Azure Functions uses them: `orders/{id}`, optional `{id?}`,
 * constraints `{id:int}` / `{id:int?}`, and catch-all `{*rest}`. Literals match case-insensitively.
 */
export interface CompiledRoute {
  template: string;
  /** Higher matches first: more literal segments, fewer optional and catch-all parameters. */
  precedence: number;
  match(path: string): Record<string, string> | undefined;
}

const constraintPatterns: Record<string, string> = {
  int: '-?\\d+',
  long: '-?\\d+',
  double: '-?\\d+(?:\\.\\d+)?',
  float: '-?\\d+(?:\\.\\d+)?',
  decimal: '-?\\d+(?:\\.\\d+)?',
  bool: '(?:true|false)',
  alpha: '[A-Za-z]+',
  guid: '[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}',
};

export function compileRoute(template: string): CompiledRoute {
  const trimmed = template.replace(/^\/+|\/+$/g, '');
  const names: string[] = [];
  let pattern = '';
  let precedence = 0;
  const segments = trimmed === '' ? [] : trimmed.split('/');
  segments.forEach((segment, index) => {
    const whole = /^\{(\*)?([^{}:?]+)(?::([^{}?]+))?(\?)?\}$/.exec(segment);
    if (whole) {
      const [, catchAll, name, constraint, optional] = whole;
      names.push(name!);
      if (catchAll) {
        pattern += index === 0 ? '(.*)' : '(?:/(.*))?';
        precedence -= 100;
        return;
      }
      const body = constraintPattern(constraint);
      if (optional) {
        pattern += index === 0 ? `(${body})?` : `(?:/(${body}))?`;
        precedence -= 10;
      } else {
        pattern += `${index === 0 ? '' : '/'}(${body})`;
        precedence -= 1;
      }
      return;
    }
    let segmentPattern = '';
    let rest = segment;
    for (;;) {
      const param = /\{([^{}:?]+)(?::([^{}?]+))?(\?)?\}/.exec(rest);
      if (!param) {
        segmentPattern += escapeRegExp(rest);
        break;
      }
      segmentPattern += escapeRegExp(rest.slice(0, param.index));
      names.push(param[1]!);
      segmentPattern += `(${constraintPattern(param[2])})${param[3] ? '?' : ''}`;
      rest = rest.slice(param.index + param[0].length);
    }
    pattern += `${index === 0 ? '' : '/'}${segmentPattern}`;
    precedence += 1000;
  });
  const regex = new RegExp(`^${pattern}/?$`, 'i');
  return {
    template,
    precedence,
    match(path: string) {
      const found = regex.exec(path.replace(/^\/+/, ''));
      if (!found) return undefined;
      const params: Record<string, string> = {};
      names.forEach((name, i) => {
        const value = found[i + 1];
        if (value !== undefined && value !== '') params[name] = safeDecode(value);
      });
      return params;
    },
  };
}

function constraintPattern(constraint: string | undefined): string {
  if (!constraint) return '[^/]+';
  return constraintPatterns[constraint.toLowerCase()] ?? '[^/]+';
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
