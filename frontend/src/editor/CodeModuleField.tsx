// The Code node's module: a picker of the workspace's modules and versions (a `wasm:` reference),
// "Edit code" (opens the module editor) and "New module" (creates one from a template and links
// it). Other references (`tool:` listings) stay editable as text.
import { useState } from 'react';
import { useModules, parseWasmReference } from '../modules/api';
import { NewModuleDialog } from '../modules/NewModuleDialog';
import { SelectField, TextField } from './fields';

interface CodeModuleFieldProps {
  handler: unknown;
  error?: string;
  onChange: (reference: string) => void;
}

export function CodeModuleField({ handler, error, onChange }: CodeModuleFieldProps) {
  const modules = useModules();
  const [creating, setCreating] = useState(false);
  const reference = parseWasmReference(handler);
  const text = typeof handler === 'string' ? handler : '';
  const custom = Boolean(text) && reference === null;
  const list = modules.data ?? [];
  const chosen = reference ? list.find((module) => module.name === reference.name) : undefined;
  const versions = chosen ? Array.from({ length: chosen.latest_version }, (_, index) => chosen.latest_version - index) : [];

  return (
    <>
      {custom ? (
        <TextField
          label="Module reference"
          value={text}
          onChange={onChange}
          error={error}
          hint="wasm:<module>@<version> or tool:<listing>@<version>"
          testId="panel-code-handler"
          monospace
        />
      ) : (
        <SelectField
          label="Module"
          value={reference?.name ?? ''}
          emptyLabel={list.length ? 'Choose a module…' : 'No modules yet: create one'}
          options={list.map((module) => [module.name, module.description ? `${module.name} — ${module.description}` : module.name])}
          onChange={(name) => {
            const module = list.find((item) => item.name === name);
            if (module) onChange(`wasm:${module.name}@${module.latest_version}`);
          }}
          error={error}
          testId="panel-code-module"
        />
      )}
      {reference && !custom ? (
        <SelectField
          label="Version"
          value={String(reference.version)}
          options={versions.map((version) => [
            String(version),
            version === chosen?.latest_version ? `${version} (latest)` : String(version),
          ])}
          onChange={(version) => onChange(`wasm:${reference.name}@${version}`)}
          hint="A flow stays on the version it names until you change it here"
          testId="panel-code-version"
        />
      ) : null}
      <div className="inline-actions">
        {chosen ? (
          <a className="button button-small" href={`/modules/${chosen.id}`} target="_blank" rel="noreferrer" data-testid="panel-code-edit">
            Edit code
          </a>
        ) : null}
        <button type="button" className="button button-small" onClick={() => setCreating(true)} data-testid="panel-code-new">
          New module
        </button>
        <button
          type="button"
          className="link-button small"
          onClick={() => onChange(custom ? '' : text || 'tool:')}
          data-testid="panel-code-mode"
        >
          {custom ? 'Pick from my modules' : 'Enter a reference'}
        </button>
      </div>
      {creating ? (
        <NewModuleDialog
          taken={list.map((module) => module.name)}
          onClose={() => setCreating(false)}
          onCreated={(module) => {
            setCreating(false);
            onChange(`wasm:${module.name}@${module.latest_version}`);
            void modules.refetch();
          }}
        />
      ) : null}
    </>
  );
}
