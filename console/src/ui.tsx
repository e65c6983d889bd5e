/** Small shared pieces: problem alerts, confirmation dialogs, cursor pagination, badges. */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { type ApiProblem, toProblem } from './api/client.ts';

export function ProblemAlert({ problem }: { problem: ApiProblem | null }) {
  if (problem === null) return null;
  return (
    <div role="alert" class="problem">
      <strong>{problem.title}</strong> <span>{problem.detail}</span>
    </div>
  );
}

export function Badge({
  tone,
  children,
}: {
  tone: 'ok' | 'warn' | 'bad' | 'info';
  children: ComponentChildren;
}) {
  return <span class={`badge badge-${tone}`}>{children}</span>;
}

export function statusTone(status: string): 'ok' | 'warn' | 'bad' | 'info' {
  if (status === 'succeeded' || status === 'installed' || status === 'verified' || status === 'restored')
    return 'ok';
  if (status === 'failed' || status === 'rolled_back' || status === 'rejected' || status === 'invalid')
    return 'bad';
  if (status === 'awaiting_approval' || status === 'unsigned' || status === 'running') return 'warn';
  return 'info';
}

/** Runs one async action at a time and keeps its problem for display. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const run = useCallback(async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setProblem(null);
    try {
      return await action();
    } catch (error) {
      setProblem(toProblem(error));
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, problem, run, setProblem };
}

interface DialogProps {
  title: string;
  confirmLabel?: string;
  onConfirm: () => Promise<boolean | undefined> | boolean | undefined | Promise<void>;
  onClose: () => void;
  children?: ComponentChildren;
  confirmDisabled?: boolean;
}

/**
 * Every action is confirmed in a modal dialog (native `<dialog>`: focus is trapped and Escape
 * cancels). The dialog stays open with the problem shown when the action fails.
 */
export function ConfirmDialog({
  title,
  confirmLabel = 'Confirm',
  onConfirm,
  onClose,
  children,
  confirmDisabled,
}: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const { busy, problem, run } = useAction();
  const titleId = `dlg-${title.replace(/\W+/g, '-')}`;
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  return (
    <dialog ref={ref} aria-labelledby={titleId} onClose={onClose} class="dialog">
      <h2 id={titleId}>{title}</h2>
      {children}
      <ProblemAlert problem={problem} />
      <div class="actions">
        <button
          type="button"
          class="primary"
          disabled={busy || confirmDisabled}
          onClick={async () => {
            const result = await run(async () => {
              const outcome = await onConfirm();
              return outcome === false ? 'stay' : 'done';
            });
            if (result === 'done') ref.current?.close();
          }}
        >
          {busy ? 'Working…' : confirmLabel}
        </button>
        <button type="button" onClick={() => ref.current?.close()}>
          Cancel
        </button>
      </div>
    </dialog>
  );
}

/** A button that asks first. */
export function ConfirmButton(props: Omit<DialogProps, 'onClose'> & { label: string; class?: string }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" class={props.class} onClick={() => setOpen(true)}>
        {props.label}
      </button>
      {open && <ConfirmDialog {...props} onClose={() => setOpen(false)} />}
    </>
  );
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** A cursor-paginated list: first page on load (and when `deps` change), "Load more" for the next. */
export function usePaged<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>, deps: unknown[]) {
  const [items, setItems] = useState<T[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const { busy, problem, run } = useAction();
  const reload = useCallback(async () => {
    const page = await run(() => fetchPage(undefined));
    if (page !== undefined) {
      setItems(page.items);
      setNext(page.next_cursor);
    }
    setLoaded(true);
  }, deps);
  const loadMore = async () => {
    if (next === null) return;
    const page = await run(() => fetchPage(next));
    if (page !== undefined) {
      setItems((current) => [...current, ...page.items]);
      setNext(page.next_cursor);
    }
  };
  useEffect(() => {
    void reload();
  }, [reload]);
  return { items, next, loaded, busy, problem, reload, loadMore };
}

export function MoreButton({ list }: { list: { next: string | null; busy: boolean; loadMore: () => void } }) {
  if (list.next === null) return null;
  return (
    <button type="button" disabled={list.busy} onClick={() => list.loadMore()}>
      Load more
    </button>
  );
}

export function formatTime(iso: string | null | undefined, timeZone?: string): string {
  if (iso === null || iso === undefined) return '—';
  return new Intl.DateTimeFormat(undefined, {
    // dateStyle/timeStyle cannot be combined with timeZoneName, so the fields are spelled out.
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZone,
    timeZoneName: 'short',
  }).format(new Date(iso));
}
