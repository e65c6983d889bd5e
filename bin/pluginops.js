#!/usr/bin/env node
// Runs the TypeScript CLI straight from a clone: tsx compiles `cli/*.ts` on the fly, and
// package.json subpath imports (#core/*, #adapters/*) resolve as in the rest of the code base.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
