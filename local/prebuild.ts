/**
 * What `npm start` and `npm test` build first, each only when its inputs changed: the web console
 * (local/console-build.ts) and the CLI bundle (local/cli-build.ts).
 */
import { ensureCliBuilt } from './cli-build.ts';
import { ensureConsoleBuilt } from './console-build.ts';

const [consoleBuild, cliBuild] = await Promise.all([ensureConsoleBuilt(), ensureCliBuilt()]);
console.log(
  consoleBuild.built
    ? `console built in ${consoleBuild.ms} ms`
    : `console up to date (${consoleBuild.ms} ms)`,
);
console.log(
  cliBuild.built ? `cli bundle built in ${cliBuild.ms} ms` : `cli bundle up to date (${cliBuild.ms} ms)`,
);
