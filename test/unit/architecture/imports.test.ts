/**
 * The layers of functions/ as the import graph shows them: core is pure, shared is the HTTP edge
 * (no adapters, no api, no services), and nothing imports itself round a circle. Reads every
 * `.ts` file under functions/ with the TypeScript pre-processor (static, type-only and dynamic
 * imports alike) and resolves `#alias/…` through package.json `imports`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const FUNCTIONS = join(ROOT, 'functions');

const aliases = Object.entries(
  (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { imports: Record<string, string> })
    .imports,
).map(([pattern, target]) => ({ prefix: pattern.replace(/\*$/, ''), target: target.replace(/\*$/, '') }));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Project-relative path of an import, or undefined for packages and Node built-ins. */
function resolveImport(from: string, specifier: string): string | undefined {
  if (specifier.startsWith('.')) return relative(ROOT, resolve(dirname(from), specifier));
  const alias = aliases.find((candidate) => specifier.startsWith(candidate.prefix));
  if (alias === undefined) return undefined;
  return relative(ROOT, resolve(ROOT, alias.target, specifier.slice(alias.prefix.length)));
}

function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(FUNCTIONS)) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles
      .map((imported) => resolveImport(file, imported.fileName))
      .filter((target): target is string => target !== undefined);
    graph.set(relative(ROOT, file), [...new Set(targets)]);
  }
  return graph;
}

/** Strongly connected components with more than one file (or a self-import): the import circles. */
function circles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next += 1;
    stack.push(node);
    onStack.add(node);
    for (const target of graph.get(node) ?? []) {
      if (!graph.has(target)) continue;
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(target) ?? 0));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(target) ?? 0));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    for (;;) {
      const member = stack.pop() as string;
      onStack.delete(member);
      component.push(member);
      if (member === node) break;
    }
    if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

function violations(graph: Map<string, string[]>, layer: string, forbidden: string[]): string[] {
  return [...graph.entries()].flatMap(([file, targets]) =>
    file.startsWith(`functions/${layer}/`)
      ? targets
          .filter((target) => forbidden.some((other) => target.startsWith(`functions/${other}/`)))
          .map((target) => `${file} → ${target}`)
      : [],
  );
}

describe('import graph of functions/', () => {
  const graph = importGraph();

  it('reads the whole tree', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get('functions/api/router.ts')).toContain('functions/api/health.ts');
  });

  it('core imports nothing from the outer layers', () => {
    expect(
      violations(graph, 'core', ['adapters', 'services', 'api', 'shared', 'tasks', 'events', 'config']),
    ).toEqual([]);
  });

  it('shared (the HTTP edge) imports no adapters, api or services', () => {
    expect(violations(graph, 'shared', ['adapters', 'api', 'services', 'tasks'])).toEqual([]);
  });

  it('config imports only core', () => {
    expect(violations(graph, 'config', ['adapters', 'api', 'services', 'shared', 'tasks', 'events'])).toEqual(
      [],
    );
  });

  it('has no import circle', () => {
    expect(circles(graph)).toEqual([]);
  });
});
