// Labelled form controls for the side panel; each shows its validation message.
import { useEffect, useId, useState, type ReactNode } from 'react';

interface FieldShellProps {
  label: string;
  error?: string;
  hint?: string;
  children: (ids: { id: string; describedBy?: string }) => ReactNode;
}

function FieldShell({ label, error, hint, children }: FieldShellProps) {
  const id = useId();
  const messageId = `${id}-message`;
  const message = error ?? hint;
  return (
    <div className={error ? 'field has-error' : 'field'}>
      <label htmlFor={id}>{label}</label>
      {children({ id, describedBy: message ? messageId : undefined })}
      {message ? (
        <small id={messageId} className={error ? 'field-error' : 'hint'} role={error ? 'alert' : undefined}>
          {message}
        </small>
      ) : null}
    </div>
  );
}

interface TextFieldProps {
  label: string;
  value: unknown;
  onChange: (value: string) => void;
  error?: string;
  hint?: string;
  placeholder?: string;
  multiline?: boolean;
  rows?: number;
  testId?: string;
  monospace?: boolean;
  /** Offered while typing (a datalist), e.g. the flow's secret references. */
  suggestions?: string[];
}

export function TextField({ label, value, onChange, error, hint, placeholder, multiline, rows, testId, monospace, suggestions }: TextFieldProps) {
  const text = value === undefined || value === null ? '' : String(value);
  const listId = suggestions?.length ? `${testId ?? label.replace(/\W+/g, '-')}-suggestions` : undefined;
  return (
    <FieldShell label={label} error={error} hint={hint}>
      {({ id, describedBy }) =>
        multiline ? (
          <textarea
            id={id}
            value={text}
            rows={rows ?? 3}
            placeholder={placeholder}
            aria-invalid={Boolean(error)}
            aria-describedby={describedBy}
            data-testid={testId}
            className={monospace ? 'mono' : undefined}
            spellCheck={false}
            onChange={(event) => onChange(event.target.value)}
          />
        ) : (
          <>
            <input
              id={id}
              value={text}
              placeholder={placeholder}
              aria-invalid={Boolean(error)}
              aria-describedby={describedBy}
              data-testid={testId}
              className={monospace ? 'mono' : undefined}
              spellCheck={false}
              autoComplete="off"
              list={listId}
              onChange={(event) => onChange(event.target.value)}
            />
            {listId ? (
              <datalist id={listId}>
                {suggestions?.map((item) => <option key={item} value={item} />)}
              </datalist>
            ) : null}
          </>
        )
      }
    </FieldShell>
  );
}

interface NumberFieldProps {
  label: string;
  value: unknown;
  onChange: (value: number | undefined) => void;
  error?: string;
  hint?: string;
  step?: number;
  testId?: string;
}

/** Keeps the typed text locally so "0." or "" can be typed; reports numbers (or undefined when empty). */
export function NumberField({ label, value, onChange, error, hint, step, testId }: NumberFieldProps) {
  const external = typeof value === 'number' ? String(value) : '';
  const [text, setText] = useState(external);
  const [localError, setLocalError] = useState<string | null>(null);
  useEffect(() => {
    if (Number(text) !== Number(external) || (text === '') !== (external === '')) setText(external);
  }, [external]);
  return (
    <FieldShell label={label} error={localError ?? error} hint={hint}>
      {({ id, describedBy }) => (
        <input
          id={id}
          type="number"
          inputMode="decimal"
          step={step ?? 'any'}
          value={text}
          aria-invalid={Boolean(localError ?? error)}
          aria-describedby={describedBy}
          data-testid={testId}
          onChange={(event) => {
            const next = event.target.value;
            setText(next);
            if (next.trim() === '') {
              setLocalError(null);
              onChange(undefined);
              return;
            }
            const parsed = Number(next);
            if (Number.isFinite(parsed)) {
              setLocalError(null);
              onChange(parsed);
            } else {
              setLocalError('Enter a number');
            }
          }}
        />
      )}
    </FieldShell>
  );
}

interface SelectFieldProps {
  label: string;
  value: unknown;
  options: Array<[string, string]>;
  onChange: (value: string) => void;
  error?: string;
  hint?: string;
  testId?: string;
  emptyLabel?: string;
}

export function SelectField({ label, value, options, onChange, error, hint, testId, emptyLabel }: SelectFieldProps) {
  const current = value === undefined || value === null ? '' : String(value);
  const known = options.some(([option]) => option === current);
  return (
    <FieldShell label={label} error={error} hint={hint}>
      {({ id, describedBy }) => (
        <select
          id={id}
          value={current}
          aria-invalid={Boolean(error)}
          aria-describedby={describedBy}
          data-testid={testId}
          onChange={(event) => onChange(event.target.value)}
        >
          {emptyLabel !== undefined ? <option value="">{emptyLabel}</option> : null}
          {!known && current ? <option value={current}>{current}</option> : null}
          {options.map(([option, text]) => (
            <option key={option} value={option}>
              {text}
            </option>
          ))}
        </select>
      )}
    </FieldShell>
  );
}

interface CheckboxFieldProps {
  label: string;
  checked: boolean;
  onChange: (checked: boolean) => void;
  hint?: string;
  testId?: string;
}

export function CheckboxField({ label, checked, onChange, hint, testId }: CheckboxFieldProps) {
  const id = useId();
  return (
    <div className="field field-checkbox">
      <input id={id} type="checkbox" checked={checked} data-testid={testId} onChange={(event) => onChange(event.target.checked)} />
      <label htmlFor={id}>{label}</label>
      {hint ? <small className="hint">{hint}</small> : null}
    </div>
  );
}

interface JsonFieldProps {
  label: string;
  value: unknown;
  onChange: (value: unknown) => void;
  error?: string;
  hint?: string;
  expect?: 'object' | 'any';
  rows?: number;
  testId?: string;
}

function stringify(value: unknown): string {
  return value === undefined ? '' : JSON.stringify(value, null, 2);
}

/** A JSON text area: only valid JSON reaches the store; empty means "unset". */
export function JsonField({ label, value, onChange, error, hint, expect = 'any', rows, testId }: JsonFieldProps) {
  const [text, setText] = useState(() => stringify(value));
  const [localError, setLocalError] = useState<string | null>(null);
  useEffect(() => {
    let current: unknown;
    try {
      current = text.trim() ? JSON.parse(text) : undefined;
    } catch {
      return; // the user is mid-edit; keep their text
    }
    if (JSON.stringify(current) !== JSON.stringify(value)) {
      setText(stringify(value));
      setLocalError(null);
    }
  }, [value]);
  return (
    <FieldShell label={label} error={localError ?? error} hint={hint}>
      {({ id, describedBy }) => (
        <textarea
          id={id}
          className="mono"
          rows={rows ?? 4}
          value={text}
          spellCheck={false}
          aria-invalid={Boolean(localError ?? error)}
          aria-describedby={describedBy}
          data-testid={testId}
          onChange={(event) => {
            const next = event.target.value;
            setText(next);
            if (!next.trim()) {
              setLocalError(null);
              onChange(undefined);
              return;
            }
            try {
              const parsed: unknown = JSON.parse(next);
              if (expect === 'object' && (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))) {
                setLocalError('Enter a JSON object, e.g. {"key": "value"}');
                return;
              }
              setLocalError(null);
              onChange(parsed);
            } catch (err) {
              setLocalError(`Invalid JSON: ${err instanceof Error ? err.message : String(err)}`);
            }
          }}
        />
      )}
    </FieldShell>
  );
}
