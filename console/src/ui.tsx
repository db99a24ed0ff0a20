// Small shared pieces: an error shown beside what caused it, a busy note, a pager, a form's submit, a labelled field.
import type { ComponentChildren, InputHTMLAttributes } from "preact";
import { useState } from "preact/hooks";
import { errorText } from "./api";

export function ErrorNote({ error, id }: { error?: string | null; id?: string }) {
  if (!error) return null;
  return (
    <p class="error" role="alert" id={id}>
      {error}
    </p>
  );
}

export function Busy({ busy, children }: { busy: boolean; children: ComponentChildren }) {
  return busy ? (
    <p class="busy" role="status" aria-live="polite">
      {children}
    </p>
  ) : null;
}

export function Pager({
  hasPrev,
  hasNext,
  onPrev,
  onNext,
}: {
  hasPrev: boolean;
  hasNext: boolean;
  onPrev: () => void;
  onNext: () => void;
}) {
  return (
    <nav class="pager" aria-label="pages">
      <button type="button" disabled={!hasPrev} onClick={onPrev}>
        Previous page
      </button>
      <button type="button" disabled={!hasNext} onClick={onNext}>
        Next page
      </button>
    </nav>
  );
}

/**
 * Cursor paging as every list page does it: the cursors walked so far (the first page's is
 * null), the current one, back to the first page, and the Pager's props for a page's next_cursor.
 */
export function useCursorPages() {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  return {
    cursor: cursors[cursors.length - 1] ?? null,
    restart: () => setCursors([null]),
    pager: (next: string | null | undefined) => ({
      hasPrev: cursors.length > 1,
      hasNext: Boolean(next),
      onPrev: () => setCursors(cursors.slice(0, -1)),
      onNext: () => setCursors([...cursors, next ?? null]),
    }),
  };
}

export const when = (seconds: number) => new Date(seconds * 1000).toLocaleString();

/** A secret the server shows once (an API key, a webhook's signing secret), with a copy button. */
export function SecretShownOnce({ id, what, secret }: { id: string; what: string; secret: string }) {
  const [copied, setCopied] = useState<string | null>(null);
  const copy = async () => {
    await navigator.clipboard.writeText(secret);
    setCopied(secret);
  };
  return (
    <div role="status">
      <label for={id}>{what}: copy it now, it is not shown again</label>
      <input id={id} readOnly value={secret} onFocus={(e) => (e.target as HTMLInputElement).select()} />
      <button type="button" onClick={copy}>
        Copy secret
      </button>
      {copied === secret && <span> Copied.</span>}
    </div>
  );
}

/**
 * A form's submit: busy while `work` runs, its error shown after (the form keeps what was
 * typed, so the user can correct it and send again).
 */
export function useFormSubmit(work: () => Promise<void>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      await work();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, submit };
}

/** A text input and its label (which names it for screen readers), bound to a string state. */
export function TextField({
  id,
  label,
  value,
  onValue,
  ...input
}: {
  id: string;
  label: ComponentChildren;
  value: string;
  onValue: (value: string) => void;
  type?: "text" | "email" | "date" | "datetime-local";
  required?: boolean;
  maxLength?: number;
  placeholder?: string;
  "aria-describedby"?: string;
}) {
  // Preact types each input type's attributes apart, so attributes for one of several types need saying which.
  const attributes = { id, value, onInput: (e: Event) => onValue((e.target as HTMLInputElement).value), ...input } as InputHTMLAttributes;
  return (
    <>
      <label for={id}>{label}</label>
      <input {...attributes} />
    </>
  );
}
