/**
 * Renders a message text the way Telegram does for a parse_mode: the stored text is the plain text
 * without markup, and malformed markup is refused with Telegram's "can't parse entities" errors.
 * A simplification of Telegram's parsers: entities are not reported, only the plain text.
 */

export class TelegramParseError extends Error {
  constructor(detail: string) {
    super(`Bad Request: can't parse entities: ${detail}`);
    this.name = 'TelegramParseError';
  }
}

export type ParseMode = 'HTML' | 'Markdown' | 'MarkdownV2';

/** Telegram accepts parse_mode case-insensitively; undefined means "not a parse mode". */
export function normaliseParseMode(value: string): ParseMode | undefined {
  const lower = value.toLowerCase();
  if (lower === 'html') return 'HTML';
  if (lower === 'markdown') return 'Markdown';
  if (lower === 'markdownv2') return 'MarkdownV2';
  return undefined;
}

export function renderText(text: string, parseMode: ParseMode | undefined): string {
  switch (parseMode) {
    case undefined:
      return text;
    case 'HTML':
      return renderHtml(text);
    case 'MarkdownV2':
      return renderMarkdownV2(text);
    case 'Markdown':
      return renderMarkdown(text);
  }
}

const HTML_TAGS = new Set([
  'b',
  'strong',
  'i',
  'em',
  'u',
  'ins',
  's',
  'strike',
  'del',
  'a',
  'code',
  'pre',
  'span',
  'tg-spoiler',
  'tg-emoji',
  'blockquote',
]);

function byteOffset(text: string, index: number): number {
  return Buffer.byteLength(text.slice(0, index));
}

function renderHtml(text: string): string {
  const open: string[] = [];
  let plain = '';
  let index = 0;
  const tag = /<(\/?)([A-Za-z][A-Za-z0-9-]*)(?:\s[^<>]*)?>/y;
  while (index < text.length) {
    const char = text[index];
    if (char !== '<') {
      plain += char;
      index += 1;
      continue;
    }
    tag.lastIndex = index;
    const match = tag.exec(text);
    const name = match?.[2]?.toLowerCase();
    if (!match || name === undefined || !HTML_TAGS.has(name)) {
      const shown = name ?? text.slice(index + 1, index + 2);
      throw new TelegramParseError(
        `Unsupported start tag "${shown}" at byte offset ${byteOffset(text, index)}`,
      );
    }
    if (match[1] === '/') {
      if (open.pop() !== name) {
        throw new TelegramParseError(
          `Unmatched end tag at byte offset ${byteOffset(text, index)}, expected "</${open.at(-1) ?? ''}>", found "</${name}>"`,
        );
      }
    } else {
      open.push(name);
    }
    index += match[0].length;
  }
  const unclosed = open.at(-1);
  if (unclosed !== undefined) {
    throw new TelegramParseError(`Can't find end tag corresponding to start tag "${unclosed}"`);
  }
  return plain
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCodePoint(Number(code)))
    .replace(/&amp;/g, '&');
}

const MARKDOWN_V2_MARKUP = new Set(['*', '_', '~', '|', '`', '[', ']']);
const MARKDOWN_V2_RESERVED = new Set(['#', '+', '-', '=', '{', '}', '.', '!', '(', ')', '>']);

function renderMarkdownV2(text: string): string {
  let plain = '';
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index] ?? '';
    if (char === '\\') {
      plain += text[index + 1] ?? '';
      index += 1;
      continue;
    }
    if (char === '[') {
      const link = /^\[([^\]]*)\]\(([^)]*)\)/.exec(text.slice(index));
      if (link) {
        plain += renderMarkdownV2(link[1] ?? '');
        index += link[0].length - 1;
        continue;
      }
    }
    if (char === '>' && (index === 0 || text[index - 1] === '\n')) continue;
    if (MARKDOWN_V2_MARKUP.has(char)) continue;
    if (MARKDOWN_V2_RESERVED.has(char)) {
      throw new TelegramParseError(
        `Character '${char}' is reserved and must be escaped with the preceding '\\'`,
      );
    }
    plain += char;
  }
  return plain;
}

function renderMarkdown(text: string): string {
  for (const marker of ['*', '_', '`']) {
    const first = text.indexOf(marker);
    if (first >= 0 && text.split(marker).length % 2 === 0) {
      throw new TelegramParseError(
        `Can't find end of the entity starting at byte offset ${byteOffset(text, first)}`,
      );
    }
  }
  return text.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/[*_`]/g, '');
}
