/**
 * A package's READMEs, found as Dify's daemon finds them (dify-plugin-daemon
 * `pkg/plugin_packager/decoder/helper.go`, `AvailableI18nReadme`): `README.md` at the root is
 * `en_US`; other languages are `readme/README_<lang>.md` with `<lang>` like `ja_JP` or `zh_Hans`.
 * Both are optional.
 */
const LANGUAGE_README = /^readme\/README_([a-z]{2}_[A-Za-z]{2,})\.md$/;

/** The language a README entry is for, or `undefined` when the entry is not a README. */
export function readmeLanguage(name: string): string | undefined {
  if (name === 'README.md') return 'en_US';
  return LANGUAGE_README.exec(name)?.[1];
}

/**
 * @example collectReadmes([{ name: 'README.md', content: Buffer.from('# Hi') }]) // { en_US: '# Hi' }
 */
export function collectReadmes(
  entries: ReadonlyArray<{ readonly name: string; readonly content?: Uint8Array | undefined }>,
): Record<string, string> {
  const readmes: Record<string, string> = {};
  for (const entry of entries) {
    const language = readmeLanguage(entry.name);
    if (language === undefined || entry.content === undefined) continue;
    readmes[language] = Buffer.from(entry.content).toString('utf8');
  }
  return readmes;
}
