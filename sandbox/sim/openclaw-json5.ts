/**
 * A tolerant reader for the JSON5 that `openclaw.json` is written in: plain JSON plus // and /* *\/
 * comments, trailing commas, single-quoted strings and unquoted keys. Enough for rendered configs;
 * not a full JSON5 parser (no hex numbers, Infinity/NaN or multi-line strings).
 */
export function parseJson5(text: string): unknown {
  let out = '';
  let i = 0;
  let lastSignificant = '';

  const skipSpaceAndComments = (from: number): number => {
    let j = from;
    for (;;) {
      while (j < text.length && /\s/.test(text[j] ?? '')) j += 1;
      if (text.startsWith('//', j)) {
        while (j < text.length && text[j] !== '\n') j += 1;
      } else if (text.startsWith('/*', j)) {
        const end = text.indexOf('*/', j + 2);
        if (end < 0) throw new SyntaxError('unterminated comment');
        j = end + 2;
      } else {
        return j;
      }
    }
  };

  while (i < text.length) {
    const char = text[i] ?? '';
    if (char === '"' || char === "'") {
      let value = '';
      let j = i + 1;
      while (j < text.length && text[j] !== char) {
        if (text[j] === '\\') {
          const next = text[j + 1] ?? '';
          value += next === "'" ? "'" : `\\${next}`;
          j += 2;
        } else {
          value += text[j] === '"' ? '\\"' : text[j];
          j += 1;
        }
      }
      if (j >= text.length) throw new SyntaxError('unterminated string');
      out += `"${value}"`;
      lastSignificant = '"';
      i = j + 1;
      continue;
    }
    if (char === '/' && (text[i + 1] === '/' || text[i + 1] === '*')) {
      i = skipSpaceAndComments(i);
      continue;
    }
    if (char === ',') {
      const next = text[skipSpaceAndComments(i + 1)];
      if (next === '}' || next === ']') {
        i += 1;
        continue;
      }
    }
    const identifier = /^[A-Za-z_$][\w$]*/.exec(text.slice(i));
    if (identifier && (lastSignificant === '{' || lastSignificant === ',')) {
      const after = skipSpaceAndComments(i + identifier[0].length);
      if (text[after] === ':') {
        out += `"${identifier[0]}"`;
        lastSignificant = '"';
        i += identifier[0].length;
        continue;
      }
    }
    if (identifier) {
      out += identifier[0];
      lastSignificant = 'a';
      i += identifier[0].length;
      continue;
    }
    out += char;
    if (!/\s/.test(char)) lastSignificant = char;
    i += 1;
  }
  return JSON.parse(out);
}
