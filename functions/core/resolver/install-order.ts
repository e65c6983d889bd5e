/**
 * Install order of a solved set of plugins. Dify installs a plugin only after its dependencies,
 * so a cycle among the chosen versions cannot be installed and is reported by name.
 */
import { ProblemError } from '#core/errors.ts';
import type { Candidate } from './types.ts';

/**
 * Orders `chosen` dependencies first: at each step the lowest plugin id whose dependencies are all
 * placed (Kahn's algorithm with a sorted ready list), so the order depends only on the graph.
 *
 * @throws ProblemError `dependency-cycle` naming the first cycle found, as `a → b → a`.
 */
export function orderForInstall(chosen: ReadonlyMap<string, Candidate>): Candidate[] {
  const ids = [...chosen.keys()].sort(compareIds);
  const edges = new Map<string, string[]>();
  for (const id of ids) {
    const candidate = chosen.get(id) as Candidate;
    const targets = [...new Set(candidate.dependencies.map((d) => d.pluginId))].filter((t) => chosen.has(t));
    edges.set(id, targets.sort(compareIds));
  }
  const cycle = findCycle(ids, edges);
  if (cycle !== undefined) {
    throw new ProblemError(
      'dependency-cycle',
      `The chosen plugins depend on each other in a cycle, so none of them can be installed first: ${cycle.join(' → ')}.`,
      { extensions: { cycle } },
    );
  }

  const waiting = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const id of ids) {
    const targets = edges.get(id) ?? [];
    waiting.set(id, targets.length);
    for (const target of targets) {
      const list = dependents.get(target);
      if (list === undefined) dependents.set(target, [id]);
      else list.push(id);
    }
  }
  const ready = new MinHeap(ids.filter((id) => waiting.get(id) === 0));
  const order: Candidate[] = [];
  for (let id = ready.pop(); id !== undefined; id = ready.pop()) {
    order.push(chosen.get(id) as Candidate);
    for (const dependent of dependents.get(id) ?? []) {
      const left = (waiting.get(dependent) ?? 0) - 1;
      waiting.set(dependent, left);
      if (left === 0) ready.push(dependent);
    }
  }
  return order;
}

/**
 * Iterative depth-first search from each plugin in id order; the first back edge closes a cycle,
 * returned starting at its lowest plugin id and ending where it started.
 */
function findCycle(ids: ReadonlyArray<string>, edges: ReadonlyMap<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  for (const start of ids) {
    if (state.has(start)) continue;
    const path: string[] = [start];
    const cursor: number[] = [0];
    state.set(start, 'open');
    while (path.length > 0) {
      const node = path[path.length - 1] as string;
      const targets = edges.get(node) ?? [];
      const next = cursor[cursor.length - 1] as number;
      if (next >= targets.length) {
        state.set(node, 'done');
        path.pop();
        cursor.pop();
        continue;
      }
      cursor[cursor.length - 1] = next + 1;
      const target = targets[next] as string;
      const seen = state.get(target);
      if (seen === 'open') return rotateToLowest(path.slice(path.indexOf(target)));
      if (seen === undefined) {
        state.set(target, 'open');
        path.push(target);
        cursor.push(0);
      }
    }
  }
  return undefined;
}

function rotateToLowest(cycle: string[]): string[] {
  let lowest = 0;
  cycle.forEach((id, index) => {
    if (compareIds(id, cycle[lowest] as string) < 0) lowest = index;
  });
  const rotated = [...cycle.slice(lowest), ...cycle.slice(0, lowest)];
  return [...rotated, rotated[0] as string];
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A binary min-heap of plugin ids (code-unit order). */
class MinHeap {
  private readonly items: string[] = [];

  constructor(initial: ReadonlyArray<string>) {
    for (const item of initial) this.push(item);
  }

  push(item: string): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (compareIds(items[parent] as string, item) <= 0) break;
      items[i] = items[parent] as string;
      i = parent;
    }
    items[i] = item;
  }

  pop(): string | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child =
        right < items.length && compareIds(items[right] as string, items[left] as string) < 0 ? right : left;
      if (compareIds(items[child] as string, last) >= 0) break;
      items[i] = items[child] as string;
      i = child;
    }
    items[i] = last;
    return top;
  }
}
