const { main } = await import('./cli.mjs');
process.exitCode = await main(process.argv.slice(2));
