import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { api } from '../api/endpoints';
import { errorMessage } from '../api/client';
import { useQueryClient } from '@tanstack/react-query';
import { keys, useCreateFlow, useDeleteFlow, useFlows, useMe, useUpdateFlow } from '../api/queries';
import type { Flow, FlowInput } from '../api/types';
import { Modal } from '../components/Modal';
import { NewFlowSource, type FlowSource } from './NewFlowSource';
import { StatusBadge } from '../components/StatusBadge';
import { formatRelative } from '../components/format';
import { copyName, flowNameProblem } from './flowNames';

function UsageMeter({ used, limit, label }: { used: number; limit: number | null; label: string }) {
  const ratio = limit ? Math.min(1, used / limit) : 0;
  const tone = ratio >= 1 ? 'bad' : ratio >= 0.8 ? 'warn' : 'ok';
  return (
    <div className="usage" aria-label={label} title={label}>
      <span className="usage-text">
        {used.toLocaleString()} / {limit ? limit.toLocaleString() : '∞'}
      </span>
      {limit ? (
        <span
          className={`meter meter-${tone}`}
          role="meter"
          aria-valuemin={0}
          aria-valuemax={limit}
          aria-valuenow={used}
          aria-label={label}
        >
          <span style={{ width: `${Math.round(ratio * 100)}%` }} />
        </span>
      ) : null}
    </div>
  );
}

function FlowNameDialog({
  title,
  initialName,
  initialDescription,
  taken,
  submitLabel,
  withDescription,
  onSubmit,
  onClose,
  fromTemplate,
  withSource = false,
}: {
  title: string;
  initialName: string;
  initialDescription?: string;
  taken: string[];
  submitLabel: string;
  withDescription: boolean;
  onSubmit: (name: string, description: string, source: FlowSource) => Promise<void>;
  onClose: () => void;
  fromTemplate?: boolean;
  withSource?: boolean;
}) {
  const [source, setSource] = useState<FlowSource>({ kind: 'empty' });
  const [name, setName] = useState(initialName);
  const [description, setDescription] = useState(initialDescription ?? '');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const problem = flowNameProblem(name, taken);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (problem) return setError(problem);
    setBusy(true);
    setError(null);
    try {
      await onSubmit(name, description, source);
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  }

  return (
    <Modal title={title} onClose={onClose} testId="flow-name-dialog">
      <form onSubmit={submit} noValidate>
        <label className="field">
          <span>Name</span>
          <input
            value={name}
            onChange={(event) => setName(event.target.value.toLowerCase().replace(/\s+/g, '-'))}
            aria-label="Flow name"
            aria-invalid={Boolean(name && problem)}
            data-testid="flow-name-input"
            autoFocus
          />
          <small className={name && problem ? 'field-error' : 'hint'}>
            {name && problem ? problem : 'A slug: lowercase letters, digits, - and _'}
          </small>
        </label>
        {withDescription ? (
          <label className="field">
            <span>Description</span>
            <input
              value={description}
              onChange={(event) => setDescription(event.target.value)}
              aria-label="Flow description"
              data-testid="flow-description-input"
            />
          </label>
        ) : null}
        {withSource ? <NewFlowSource value={source} onChange={setSource} /> : null}
        {error ? (
          <p className="form-error" role="alert">
            {error}
          </p>
        ) : null}
        {fromTemplate ? (
          <p className="small">
            Or{' '}
            <Link to="/marketplace?kind=flow" data-testid="start-from-template">
              start from a template
            </Link>{' '}
            in the marketplace.
          </p>
        ) : null}
        <div className="form-actions">
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button button-primary" disabled={busy} data-testid="flow-name-submit">
            {busy ? 'Working…' : submitLabel}
          </button>
        </div>
      </form>
    </Modal>
  );
}

/** A starter's YAML under the new flow's name (the first `name:` is the organism's), so the text
 * stays the flow's own and is kept as written, comments included. */
export function withOrganismName(yaml: string, name: string): string {
  return yaml.replace(/^(\s+name:\s*)[A-Za-z0-9_-]+[ \t]*$/m, `$1${name}`);
}

type DialogState =
  | { kind: 'create' }
  | { kind: 'rename'; flow: Flow }
  | { kind: 'delete'; flow: Flow }
  | null;

export function DashboardPage() {
  const flows = useFlows();
  const me = useMe();
  const navigate = useNavigate();
  const createFlow = useCreateFlow();
  const client = useQueryClient();
  const updateFlow = useUpdateFlow();
  const deleteFlow = useDeleteFlow();
  const [dialog, setDialog] = useState<DialogState>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busyId, setBusyId] = useState<string | null>(null);

  const list = flows.data ?? [];
  const names = list.map((flow) => flow.name);
  const used = list.reduce((sum, flow) => sum + (flow.executions_this_month ?? 0), 0);
  const limit = list.find((flow) => flow.executions_limit !== null)?.executions_limit ?? null;

  async function duplicate(flow: Flow) {
    setBusyId(flow.id);
    setNotice(null);
    try {
      const name = copyName(flow.name, names);
      const input: FlowInput = { name, description: flow.description, canvas_state: flow.canvas_state };
      if (flow.canvas_state?.nodes?.length) {
        const compiled = await api.compile(flow.canvas_state, name, undefined, flow.description);
        if (compiled.yaml) input.organism_yaml = compiled.yaml;
      }
      await createFlow.mutateAsync(input);
      setNotice(`Duplicated ${flow.name} as ${name}`);
    } catch (err) {
      setNotice(`Could not duplicate ${flow.name}: ${errorMessage(err)}`);
    } finally {
      setBusyId(null);
    }
  }

  return (
    <div className="page">
      <div className="page-header">
        <div>
          <h1>Flows</h1>
          <p className="muted">
            {me.data ? <>Plan: <strong>{me.data.tenant.tier}</strong> · </> : null}
            Executions this month
          </p>
          <UsageMeter used={used} limit={limit} label="Executions this month against your plan's limit" />
        </div>
        <button
          type="button"
          className="button button-primary"
          onClick={() => setDialog({ kind: 'create' })}
          aria-label="Create flow"
          data-testid="create-flow"
        >
          + New flow
        </button>
      </div>

      {notice ? (
        <p className="notice" role="status" data-testid="dashboard-notice">
          {notice}
        </p>
      ) : null}

      {flows.isPending ? <p className="muted">Loading flows…</p> : null}
      {flows.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(flows.error)}
        </p>
      ) : null}

      {flows.isSuccess && list.length === 0 ? (
        <div className="empty-state" data-testid="flows-empty">
          <h2>No flows yet</h2>
          <p>Draw a flow on the canvas, run it with a payload and watch each step.</p>
          <button type="button" className="button button-primary" onClick={() => setDialog({ kind: 'create' })}>
            Create your first flow
          </button>
        </div>
      ) : null}

      {list.length > 0 ? (
        <div className="table-wrap">
          <table className="flows-table" data-testid="flows-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Last execution</th>
                <th scope="col">This month</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((flow) => (
                <tr key={flow.id} data-testid={`flow-row-${flow.name}`}>
                  <td>
                    <Link to={`/flow/${flow.id}`} className="flow-link" data-testid={`open-flow-${flow.name}`}>
                      {flow.name}
                    </Link>
                    {flow.description ? <div className="muted small">{flow.description}</div> : null}
                  </td>
                  <td>
                    <StatusBadge status={flow.status} title={flow.status_reason ?? flow.status} />
                  </td>
                  <td>
                    {flow.last_execution ? (
                      <Link to={`/flow/${flow.id}/runs/${flow.last_execution.id}`} className="last-run">
                        <StatusBadge status={flow.last_execution.status} />
                        <span className="muted small">{formatRelative(flow.last_execution.created_at)}</span>
                      </Link>
                    ) : (
                      <span className="muted">Never run</span>
                    )}
                  </td>
                  <td>
                    <UsageMeter
                      used={flow.executions_this_month ?? 0}
                      limit={flow.executions_limit}
                      label={`Executions of ${flow.name} this month`}
                    />
                  </td>
                  <td className="row-actions">
                    <Link to={`/flow/${flow.id}/runs`} className="button button-small" aria-label={`Runs of ${flow.name}`}>
                      Runs
                    </Link>
                    <button
                      type="button"
                      className="button button-small"
                      aria-label={`Rename ${flow.name}`}
                      onClick={() => setDialog({ kind: 'rename', flow })}
                    >
                      Rename
                    </button>
                    <button
                      type="button"
                      className="button button-small"
                      aria-label={`Duplicate ${flow.name}`}
                      disabled={busyId === flow.id}
                      onClick={() => duplicate(flow)}
                    >
                      {busyId === flow.id ? 'Duplicating…' : 'Duplicate'}
                    </button>
                    <button
                      type="button"
                      className="button button-small button-danger"
                      aria-label={`Delete ${flow.name}`}
                      onClick={() => setDialog({ kind: 'delete', flow })}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}

      {dialog?.kind === 'create' ? (
        <FlowNameDialog
          title="New flow"
          initialName=""
          taken={names}
          submitLabel="Create"
          withDescription
          fromTemplate
          withSource
          onClose={() => setDialog(null)}
          onSubmit={async (name, description, source) => {
            const flow =
              source.kind === 'file'
                ? await api.importFlow(source.text, name)
                : await createFlow.mutateAsync({
                    name,
                    description: description || undefined,
                    organism_yaml: source.kind === 'starter' ? withOrganismName(source.yaml, name) : undefined,
                  });
            if (source.kind === 'file') void client.invalidateQueries({ queryKey: keys.flows, exact: true });
            setDialog(null);
            navigate(`/flow/${flow.id}`);
          }}
        />
      ) : null}

      {dialog?.kind === 'rename' ? (
        <FlowNameDialog
          title={`Rename ${dialog.flow.name}`}
          initialName={dialog.flow.name}
          taken={names.filter((name) => name !== dialog.flow.name)}
          submitLabel="Rename"
          withDescription={false}
          onClose={() => setDialog(null)}
          onSubmit={async (name) => {
            await updateFlow.mutateAsync({ id: dialog.flow.id, input: { name } });
            setDialog(null);
          }}
        />
      ) : null}

      {dialog?.kind === 'delete' ? (
        <Modal
          title={`Delete ${dialog.flow.name}?`}
          onClose={() => setDialog(null)}
          testId="delete-flow-dialog"
          footer={
            <>
              <button type="button" className="button" onClick={() => setDialog(null)}>
                Cancel
              </button>
              <button
                type="button"
                className="button button-danger"
                data-testid="confirm-delete"
                disabled={deleteFlow.isPending}
                onClick={async () => {
                  try {
                    await deleteFlow.mutateAsync(dialog.flow.id);
                    setNotice(`Deleted ${dialog.flow.name}`);
                  } catch (err) {
                    setNotice(`Could not delete ${dialog.flow.name}: ${errorMessage(err)}`);
                  }
                  setDialog(null);
                }}
              >
                Delete flow
              </button>
            </>
          }
        >
          <p>
            This stops the flow, deletes its versions, executions and memory, and revokes its webhook. It cannot be
            undone.
          </p>
        </Modal>
      ) : null}
    </div>
  );
}
