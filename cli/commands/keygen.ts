/** `pluginops keygen`: an RSA key pair for signing packages, as `dify signature generate` makes. */
import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { type CliIo, printFields, printJson } from '#cli/output.ts';
import { writeFileAtomically } from '#cli/user-files.ts';
import { generateSigningKeyPair, type KeyEncoding } from '#core/package/sign.ts';

interface KeygenOptions {
  outDir: string;
  name: string;
  bits: number;
  format: KeyEncoding;
  force: boolean;
  json: boolean;
}

const KEY_NAME = /^[A-Za-z0-9._-]{1,64}$/;

export function keygenCommand(io: CliIo): Command {
  return new Command('keygen')
    .description(
      'Generate an RSA key pair for signing packages: <name>.private.pem (0600) and <name>.public.pem',
    )
    .option('--out-dir <dir>', 'directory for the key files', '.')
    .option('--name <name>', 'base name of the key files', parseKeyName, 'pluginops')
    .addOption(new Option('--bits <bits>', 'RSA modulus length').default(4096).argParser(parseBits))
    .addOption(
      new Option('--format <format>', 'PEM layout: pkcs1 (RSA PRIVATE/PUBLIC KEY, what Dify loads) or pkcs8')
        .choices(['pkcs1', 'pkcs8'])
        .default('pkcs1'),
    )
    .option('--force', 'overwrite existing key files', false)
    .option('--json', 'print the file paths as JSON', false)
    .action(async (options: KeygenOptions) => {
      // RSA 4096 takes seconds on a slow machine: say so before, and how long it took after.
      const started = Date.now();
      io.stderr(`generating a ${options.bits}-bit RSA key pair (this takes a few seconds)…\n`);
      const { privateKeyPem, publicKeyPem } = await generateSigningKeyPair(options.bits, options.format);
      io.stderr(`generated in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      const privatePath = resolve(options.outDir, `${options.name}.private.pem`);
      const publicPath = resolve(options.outDir, `${options.name}.public.pem`);
      const exclusive = !options.force;
      await writeFileAtomically(privatePath, privateKeyPem, { mode: 0o600, exclusive, field: 'name' });
      await writeFileAtomically(publicPath, publicKeyPem, { mode: 0o644, exclusive, field: 'name' });
      if (options.json) {
        printJson(io, {
          private_key: privatePath,
          public_key: publicPath,
          bits: options.bits,
          format: options.format,
        });
      } else {
        printFields(io, [
          ['private_key', privatePath],
          ['public_key', publicPath],
          ['bits', options.bits],
          ['format', options.format],
        ]);
      }
    });
}

function parseKeyName(value: string): string {
  if (!KEY_NAME.test(value))
    throw new InvalidArgumentError('use 1-64 letters, digits, dots, dashes or underscores.');
  return value;
}

function parseBits(value: string): number {
  const bits = Number(value);
  if (!Number.isInteger(bits) || bits < 2048 || bits > 16384 || bits % 8 !== 0) {
    throw new InvalidArgumentError('use a multiple of 8 between 2048 and 16384.');
  }
  return bits;
}
