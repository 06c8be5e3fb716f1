// /modules: the workspace's WASM modules, and "New module".
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { errorMessage } from '../api/client';
import { Modal } from '../components/Modal';
import { formatRelative } from '../components/format';
import { useDeleteModule, useModules, type ModuleSummary } from './api';
import { NewModuleDialog } from './NewModuleDialog';
import { formatBytes } from '../components/format';

export default function ModulesPage() {
  const modules = useModules();
  const remove = useDeleteModule();
  const navigate = useNavigate();
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<ModuleSummary | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const list = modules.data ?? [];

  return (
    <div className="page" data-testid="modules-page">
      <div className="page-header">
        <div>
          <h1>Modules</h1>
          <p className="muted">
            Your own code, written in AssemblyScript and run as sandboxed WebAssembly by a flow&apos;s Code node.
          </p>
        </div>
        <button type="button" className="button button-primary" data-testid="new-module" onClick={() => setCreating(true)}>
          New module
        </button>
      </div>
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      {modules.isError ? <p className="banner banner-error">{errorMessage(modules.error)}</p> : null}
      {modules.isSuccess && list.length === 0 ? (
        <div className="empty-state card">
          <h2>No modules yet</h2>
          <p className="muted">Start from a template: a JSON transform, an HTTP call or a counter in project memory.</p>
          <button type="button" className="button button-primary" onClick={() => setCreating(true)}>
            Write your first module
          </button>
        </div>
      ) : null}
      {list.length > 0 ? (
        <div className="table-wrap">
          <table data-testid="modules-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Latest version</th>
                <th scope="col">Size</th>
                <th scope="col">Changed</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((module) => (
                <tr key={module.id} data-testid={`module-row-${module.name}`}>
                  <td>
                    <Link to={`/modules/${module.id}`} className="flow-link" data-testid={`open-module-${module.name}`}>
                      {module.name}
                    </Link>
                    {module.description ? <div className="muted small">{module.description}</div> : null}
                  </td>
                  <td className="mono">{module.latest ? module.latest.reference : '—'}</td>
                  <td>{module.latest ? formatBytes(module.latest.size_bytes) : '—'}</td>
                  <td className="muted small">{formatRelative(module.updated_at)}</td>
                  <td className="row-actions">
                    <button
                      type="button"
                      className="button button-small button-danger"
                      aria-label={`Delete ${module.name}`}
                      onClick={() => setDeleting(module)}
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
      {creating ? (
        <NewModuleDialog
          taken={list.map((module) => module.name)}
          onClose={() => setCreating(false)}
          onCreated={(module, template) =>
            navigate(`/modules/${module.id}`, {
              state: { samplePayload: template.sample_payload, sampleConfig: template.sample_config },
            })
          }
        />
      ) : null}
      {deleting ? (
        <Modal
          title={`Delete ${deleting.name}?`}
          onClose={() => setDeleting(null)}
          testId="delete-module-dialog"
          footer={
            <>
              <button type="button" className="button" onClick={() => setDeleting(null)}>
                Cancel
              </button>
              <button
                type="button"
                className="button button-danger"
                data-testid="confirm-delete-module"
                disabled={remove.isPending}
                onClick={async () => {
                  try {
                    await remove.mutateAsync(deleting.id);
                    setNotice(`Deleted ${deleting.name}`);
                  } catch (err) {
                    setNotice(`Could not delete ${deleting.name}: ${errorMessage(err)}`);
                  }
                  setDeleting(null);
                }}
              >
                Delete module
              </button>
            </>
          }
        >
          <p>Every version of the module is deleted. Flows that use it must stop using it first.</p>
        </Modal>
      ) : null}
    </div>
  );
}
