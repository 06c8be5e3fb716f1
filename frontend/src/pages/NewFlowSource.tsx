// Where a new flow starts from: empty, a starter template shipped with Flowplane, or a flow file.
import { useState, type ChangeEvent } from 'react';
import { useStarters } from '../api/queries';

export type FlowSource = { kind: 'empty' } | { kind: 'starter'; id: string; yaml: string } | { kind: 'file'; name: string; text: string };

export function NewFlowSource({ value, onChange }: { value: FlowSource; onChange: (source: FlowSource) => void }) {
  const starters = useStarters();
  const [fileError, setFileError] = useState<string | null>(null);

  async function pick(event: ChangeEvent<HTMLInputElement>) {
    const file = event.target.files?.[0];
    if (!file) return;
    if (file.size > 3 * 1024 * 1024) {
      setFileError('The file is larger than 3 MiB.');
      return;
    }
    setFileError(null);
    onChange({ kind: 'file', name: file.name, text: await file.text() });
  }

  return (
    <fieldset className="flow-source" data-testid="flow-source">
      <legend>Start from</legend>
      <label className="choice">
        <input type="radio" name="flow-source" checked={value.kind === 'empty'} onChange={() => onChange({ kind: 'empty' })} />
        <span>
          <strong>Empty flow</strong>
        </span>
      </label>
      {(starters.data ?? []).map((starter) => (
        <label className="choice" key={starter.id}>
          <input
            type="radio"
            name="flow-source"
            checked={value.kind === 'starter' && value.id === starter.id}
            onChange={() => onChange({ kind: 'starter', id: starter.id, yaml: starter.organism_yaml })}
            data-testid={`starter-${starter.id}`}
          />
          <span>
            <strong>{starter.title}</strong>
            <small className="muted"> — {starter.description}</small>
          </span>
        </label>
      ))}
      <label className="choice">
        <input type="radio" name="flow-source" checked={value.kind === 'file'} readOnly onClick={() => undefined} />
        <span>
          <strong>Import a file</strong> <small className="muted">(a flow exported from Flowplane, or organism YAML)</small>
          <input
            type="file"
            accept=".yaml,.yml,application/yaml,text/yaml"
            onChange={(event) => void pick(event)}
            aria-label="Flow file to import"
            data-testid="flow-import-file"
          />
          {value.kind === 'file' ? <small className="muted"> {value.name}</small> : null}
        </span>
      </label>
      {fileError ? (
        <p className="form-error" role="alert">
          {fileError}
        </p>
      ) : null}
    </fieldset>
  );
}
