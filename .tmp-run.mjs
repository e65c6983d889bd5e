const { main } = await import('/tmp/clib/cli.mjs');
process.exitCode = await main(process.argv.slice(2));
