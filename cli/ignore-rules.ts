/**
 * `.difyignore` rules for `pluginops pack`, with gitignore syntax as Dify's packager reads it
 * (go-git's gitignore patterns): `#` comments, `!` negation, a trailing `/` for directories only,
 * a `/` anywhere but the end anchors the pattern to the plugin root, `*`, `?`, `[…]` and `**`.
 * Like Dify, `.gitignore` is used when there is no `.difyignore`. Unlike Dify, the last matching
 * rule wins (as in git), so `!keep.lock` re-includes a file an earlier rule excluded.
 */

interface IgnoreRule {
  negate: boolean;
  directoryOnly: boolean;
  /** Matches the whole relative path when anchored, else any single path component. */
  anchored: boolean;
  regex: RegExp;
}

/** Always left out, whatever the ignore file says: VCS data, dependencies, caches, Finder files. */
const ALWAYS_SKIPPED_DIRECTORIES = new Set(['.git', 'node_modules', '__pycache__']);
const ALWAYS_SKIPPED_FILES = new Set(['.DS_Store']);

export class IgnoreRules {
  private constructor(private readonly rules: readonly IgnoreRule[]) {}

  /** Parses the text of a `.difyignore` (or `.gitignore`). */
  static parse(text: string): IgnoreRules {
    const rules: IgnoreRule[] = [];
    for (const rawLine of text.split(/\r?\n/)) {
      const rule = parseRule(rawLine.trim());
      if (rule !== undefined) rules.push(rule);
    }
    return new IgnoreRules(rules);
  }

  static none(): IgnoreRules {
    return new IgnoreRules([]);
  }

  /** True when `relativePath` (forward slashes, no leading `/`) is left out of the package. */
  ignores(relativePath: string, isDirectory: boolean): boolean {
    const name = relativePath.slice(relativePath.lastIndexOf('/') + 1);
    if (isDirectory ? ALWAYS_SKIPPED_DIRECTORIES.has(name) : ALWAYS_SKIPPED_FILES.has(name)) return true;
    let ignored = false;
    for (const rule of this.rules) {
      if (rule.directoryOnly && !isDirectory) continue;
      if (rule.regex.test(rule.anchored ? relativePath : name)) ignored = !rule.negate;
    }
    return ignored;
  }
}

function parseRule(line: string): IgnoreRule | undefined {
  if (line === '' || line.startsWith('#')) return undefined;
  let pattern = line;
  const negate = pattern.startsWith('!');
  if (negate) pattern = pattern.slice(1);
  if (pattern.startsWith('\\')) pattern = pattern.slice(1); // `\#file`, `\!file`
  const directoryOnly = pattern.endsWith('/');
  pattern = pattern.replace(/\/+$/, '');
  const anchored = pattern.includes('/');
  pattern = pattern.replace(/^\/+/, '');
  if (pattern === '') return undefined;
  let regex: RegExp;
  try {
    regex = new RegExp(`^${globToRegexSource(pattern)}$`);
  } catch {
    regex = new RegExp(`^${escapeRegex(pattern)}$`); // e.g. a reversed class `[z-a]`: match literally
  }
  return { negate, directoryOnly, anchored, regex };
}

function globToRegexSource(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i] as string;
    if (char === '*') {
      if (glob[i + 1] === '*') {
        const atSegmentStart = i === 0 || glob[i - 1] === '/';
        const atSegmentEnd = i + 2 === glob.length || glob[i + 2] === '/';
        if (atSegmentStart && atSegmentEnd) {
          if (glob[i + 2] === '/') {
            out += '(?:.*/)?'; // `**/` – zero or more directories
            i += 2;
          } else {
            out += '.*'; // trailing `/**` – everything inside
            i += 1;
          }
          continue;
        }
      }
      out += '[^/]*';
    } else if (char === '?') {
      out += '[^/]';
    } else if (char === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end === -1) {
        out += '\\[';
      } else {
        let body = glob.slice(i + 1, end);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        out += `[${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (char === '\\' && i + 1 < glob.length) {
      out += escapeRegex(glob[i + 1] as string);
      i += 1;
    } else {
      out += escapeRegex(char);
    }
  }
  return out;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
