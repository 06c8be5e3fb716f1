// One saved version: its YAML, its difference to the current version, and Restore.
import { useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { errorMessage } from '../api/client';
import { api } from '../api/endpoints';
import type { Flow } from '../api/types';
import { Modal } from '../components/Modal';
import { lineDiff } from './lineDiff';

interface VersionDialogProps {
  flow: Flow;
  number: number;
  dirty: boolean;
  onClose: () => void;
  onRestored: (flow: Flow) => void;
}

export function VersionDialog({ flow, number, dirty, onClose, onRestored }: VersionDialogProps) {
  const version = useQuery({ queryKey: ['flows', flow.id, 'versions', number], queryFn: () => api.getVersion(flow.id, number) });
  const [view, setView] = useState<'diff' | 'yaml'>('diff');
  const [error, setError] = useState<string | null>(null);
  const [restoring, setRestoring] = useState(false);
  const current = number === flow.version;

  async function restore() {
    setRestoring(true);
    setError(null);
    try {
      onRestored(await api.restoreVersion(flow.id, number));
    } catch (err) {
      setError(errorMessage(err));
      setRestoring(false);
    }
  }

  const diff = version.data ? lineDiff(version.data.organism_yaml, flow.organism_yaml ?? '') : [];
  const changed = diff.filter((line) => line.kind !== 'same').length;
  return (
    <Modal
      title={`Version ${number}${current ? ' (current)' : ''}`}
      onClose={onClose}
      testId="version-dialog"
      wide
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            Close
          </button>
          {!current ? (
            <button
              type="button"
              className="button button-primary"
              onClick={() => void restore()}
              disabled={restoring || !version.data}
              data-testid="version-restore"
            >
              {restoring ? 'Restoring…' : `Restore v${number}`}
            </button>
          ) : null}
        </>
      }
    >
      <div className="segmented" role="group" aria-label="Show">
        <button type="button" className={view === 'diff' ? 'button active' : 'button'} aria-pressed={view === 'diff'} onClick={() => setView('diff')}>
          Changes to v{flow.version}
        </button>
        <button type="button" className={view === 'yaml' ? 'button active' : 'button'} aria-pressed={view === 'yaml'} onClick={() => setView('yaml')}>
          YAML of v{number}
        </button>
      </div>
      {!current ? (
        <p className="muted small">
          Restore saves v{number}&apos;s content as a new version (v{flow.version + 1}); nothing is lost.
          {dirty ? ' Your unsaved changes on the canvas are discarded.' : ''}
        </p>
      ) : null}
      {version.isPending ? <p className="muted">Loading…</p> : null}
      {version.isError ? <p className="form-error">{errorMessage(version.error)}</p> : null}
      {version.data && view === 'yaml' ? (
        <pre className="mono version-yaml" data-testid="version-yaml">
          {version.data.organism_yaml}
        </pre>
      ) : null}
      {version.data && view === 'diff' ? (
        changed ? (
          <pre className="mono version-diff" data-testid="version-diff" aria-label={`Lines that differ between v${number} and v${flow.version}`}>
            {diff.map((line, index) => (
              <div key={index} className={`diff-${line.kind}`}>
                {line.kind === 'added' ? '+ ' : line.kind === 'removed' ? '- ' : '  '}
                {line.text}
              </div>
            ))}
          </pre>
        ) : (
          <p className="muted" data-testid="version-diff">
            v{number} has the same organism as v{flow.version}.
          </p>
        )
      ) : null}
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </Modal>
  );
}
