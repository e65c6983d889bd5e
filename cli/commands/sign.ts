/**
 * `pluginops sign <file> --key <private.pem>`: signs a package the way `dify signature sign` does
 * and checks the result (valid package, signature verifies with the key's public half) before
 * writing it.
 */
import { createPublicKey } from 'node:crypto';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { openFileByteSource } from '#adapters/file-byte-source.ts';
import { type CliIo, printFields, printJson } from '#cli/output.ts';
import { readUserFile, userPathError, writeFileAtomically } from '#cli/user-files.ts';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { inspectPackage } from '#core/package/inspect.ts';
import { signPackage } from '#core/package/sign.ts';
import { AUTHORIZED_CATEGORIES, type AuthorizedCategory } from '#core/package/signature.ts';

interface SignOptions {
  key: string;
  category?: AuthorizedCategory;
  output?: string;
  json: boolean;
}

export function signCommand(io: CliIo): Command {
  return new Command('sign')
    .description('Sign a .difypkg with an RSA private key (Dify-compatible signature in the zip comment)')
    .argument('<file>', 'the package to sign')
    .requiredOption('--key <private.pem>', 'RSA private key, PEM')
    .addOption(
      new Option('--category <category>', 'authorized_category written to .verification.dify.json').choices(
        AUTHORIZED_CATEGORIES,
      ),
    )
    .option('-o, --output <file>', 'where to write the signed package (default: <file>.signed.difypkg)')
    .option('--json', 'print the result as JSON', false)
    .action(async (file: string, options: SignOptions) => {
      const privateKeyPem = (await readUserFile(options.key, 'key')).toString('utf8');
      let source: Awaited<ReturnType<typeof openFileByteSource>>;
      try {
        source = await openFileByteSource(file);
      } catch (error) {
        throw userPathError(error, file, 'file');
      }
      let signed: Buffer;
      try {
        signed = await signPackage(source, {
          privateKeyPem,
          now: new Date(),
          ...(options.category === undefined ? {} : { authorizedCategory: options.category }),
        });
      } finally {
        await source.close();
      }

      const publicKey = createPublicKey(privateKeyPem).export({ type: 'spki', format: 'pem' }).toString();
      const checked = await inspectPackage(byteSourceFromBuffer(signed), {
        keyring: [{ keyId: 'signing-key', publicKey }],
      });
      if (checked.signature.status !== 'verified') {
        throw new Error(
          `the new signature does not verify: ${checked.signature.reason ?? checked.signature.status}`,
        );
      }
      const output = resolve(options.output ?? file.replace(/(\.difypkg)?$/, '.signed.difypkg'));
      await writeFileAtomically(output, signed, { field: 'output' });

      const result = {
        unique_identifier: checked.uniqueIdentifier,
        output,
        authorized_category: checked.signature.authorizedCategory,
        signed_at: checked.signature.signedAt,
      };
      if (options.json) printJson(io, result);
      else printFields(io, Object.entries(result) as [string, string | undefined][]);
    });
}
