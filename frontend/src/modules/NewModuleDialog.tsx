// "New module": a name, a description and a starter template; creates version 1 (a build).
import { useState, type FormEvent } from 'react';
import { errorMessage } from '../api/client';
import { Modal } from '../components/Modal';
import { useCreateModule, useTemplates, type ModuleDetail, type ModuleTemplate } from './api';

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function moduleNameProblem(name: string, taken: string[]): string | null {
  if (!name) return 'Give the module a name';
  if (!NAME.test(name)) return 'A slug: lowercase letters, digits, - and _ (at most 63)';
  if (taken.includes(name)) return 'A module of this workspace already has this name';
  return null;
}

export function NewModuleDialog({
  taken,
  onCreated,
  onClose,
}: {
  taken: string[];
  onCreated: (module: ModuleDetail, template: ModuleTemplate) => void;
  onClose: () => void;
}) {
  const templates = useTemplates();
  const create = useCreateModule();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [templateId, setTemplateId] = useState('json-transform');
  const [error, setError] = useState<string | null>(null);
  const problem = moduleNameProblem(name, taken);
  const template = templates.data?.find((item) => item.id === templateId);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (problem) return setError(problem);
    if (!template) return setError('The templates are still loading');
    setError(null);
    try {
      const module = await create.mutateAsync({
        name,
        description: description || undefined,
        source: template.source,
        capabilities: template.capabilities,
      });
      onCreated(module, template);
    } catch (err) {
      setError(errorMessage(err));
    }
  }

  return (
    <Modal title="New module" onClose={onClose} testId="new-module-dialog" wide>
      <form onSubmit={submit} noValidate>
        <label className="field">
          <span>Name</span>
          <input
            value={name}
            onChange={(event) => setName(event.target.value.toLowerCase().replace(/\s+/g, '-'))}
            aria-label="Module name"
            aria-invalid={Boolean(name && problem)}
            data-testid="module-name-input"
            autoFocus
          />
          <small className={name && problem ? 'field-error' : 'hint'}>
            {name && problem ? problem : 'Flows use it as wasm:<name>@<version>'}
          </small>
        </label>
        <label className="field">
          <span>Description</span>
          <input value={description} onChange={(event) => setDescription(event.target.value)} aria-label="Module description" />
        </label>
        <fieldset className="template-choice">
          <legend>Start from</legend>
          {(templates.data ?? []).map((item) => (
            <label key={item.id} className="template-option" data-testid={`template-${item.id}`}>
              <input
                type="radio"
                name="template"
                value={item.id}
                checked={templateId === item.id}
                onChange={() => setTemplateId(item.id)}
              />
              <span>
                <strong>{item.title}</strong>
                <span className="muted small">{item.description}</span>
              </span>
            </label>
          ))}
          {templates.isError ? <p className="form-error">{errorMessage(templates.error)}</p> : null}
        </fieldset>
        {error ? (
          <p className="form-error" role="alert" data-testid="new-module-error">
            {error}
          </p>
        ) : null}
        <div className="form-actions">
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button button-primary" disabled={create.isPending} data-testid="new-module-submit">
            {create.isPending ? 'Building…' : 'Create and build'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
