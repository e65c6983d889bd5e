/** Where the web console's build lives (kept apart from console-build.ts so the stack never loads Vite). */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CONSOLE_ROOT = join(REPO_ROOT, 'console');
export const CONSOLE_DIST = join(CONSOLE_ROOT, 'dist');
