// The editor's toolbar: [Save] [Undo] [Redo]  [Run] [Start] [Stop]  [Canvas] [YAML] [Split]  [Logs] [Runs].
import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { StatusBadge } from '../components/StatusBadge';

export type ViewMode = 'canvas' | 'yaml' | 'split';

interface EditorToolbarProps {
  flowId: string;
  flowName: string;
  status: string;
  statusTitle: string;
  /** The version the pump runs, while it runs. */
  liveVersion?: number | null;
  outdated?: boolean;
  dirty: boolean;
  saving: boolean;
  canUndo: boolean;
  canRedo: boolean;
  startDisabled: boolean;
  stopDisabled: boolean;
  mode: ViewMode;
  logsOpen: boolean;
  onSave: () => void;
  onUndo: () => void;
  onRedo: () => void;
  onRun: () => void;
  onStart: () => void;
  onStop: () => void;
  onMode: (mode: ViewMode) => void;
  onToggleLogs: () => void;
  onPublish?: () => void;
  onExport: () => void;
}

export function EditorToolbar({
  flowId,
  flowName,
  status,
  statusTitle,
  liveVersion = null,
  outdated = false,
  dirty,
  saving,
  canUndo,
  canRedo,
  startDisabled,
  stopDisabled,
  mode,
  logsOpen,
  onSave,
  onUndo,
  onRedo,
  onRun,
  onStart,
  onStop,
  onMode,
  onToggleLogs,
  onPublish,
  onExport,
}: EditorToolbarProps) {
  return (
    <header className="editor-toolbar" role="toolbar" aria-label="Editor toolbar">
      <Link to="/dashboard" className="button button-ghost" aria-label="Back to flows">
        ←
      </Link>
      <div className="editor-title">
        <h1 data-testid="flow-name">{flowName}</h1>
        <StatusBadge status={status} testId="flow-status" title={statusTitle} />
        {liveVersion ? (
          <span
            className={outdated ? 'live-version error-text' : 'live-version muted'}
            data-testid="live-version"
            title={outdated ? 'The pump runs an older version than the one saved' : 'The version the pump runs'}
          >
            live v{liveVersion}
            {outdated ? ' · outdated' : ''}
          </span>
        ) : null}
      </div>
      <div className="toolbar-group">
        <button
          type="button"
          className={dirty ? 'button button-primary' : 'button'}
          onClick={onSave}
          disabled={saving}
          aria-label="Save flow"
          title="Save (Ctrl+S)"
          data-testid="toolbar-save"
        >
          {saving ? 'Saving…' : 'Save'}
        </button>
        <button
          type="button"
          className="button"
          onClick={onUndo}
          disabled={!canUndo}
          aria-label="Undo"
          title="Undo (Ctrl+Z)"
          data-testid="toolbar-undo"
        >
          ↶
        </button>
        <button
          type="button"
          className="button"
          onClick={onRedo}
          disabled={!canRedo}
          aria-label="Redo"
          title="Redo (Ctrl+Shift+Z)"
          data-testid="toolbar-redo"
        >
          ↷
        </button>
      </div>
      <div className="toolbar-group">
        <button type="button" className="button" onClick={onRun} aria-label="Run flow" data-testid="toolbar-run">
          ▶ Run
        </button>
        <button
          type="button"
          className="button"
          onClick={onStart}
          disabled={startDisabled}
          aria-label="Start flow"
          data-testid="toolbar-start"
        >
          Start
        </button>
        <button
          type="button"
          className="button"
          onClick={onStop}
          disabled={stopDisabled}
          aria-label="Stop flow"
          data-testid="toolbar-stop"
        >
          ■ Stop
        </button>
      </div>
      <div className="toolbar-group segmented" role="group" aria-label="View">
        {(['canvas', 'yaml', 'split'] as const).map((value) => (
          <button
            key={value}
            type="button"
            className={mode === value ? 'button active' : 'button'}
            aria-pressed={mode === value}
            onClick={() => onMode(value)}
            aria-label={`${value === 'yaml' ? 'YAML' : value[0].toUpperCase() + value.slice(1)} view`}
            data-testid={`view-${value}`}
          >
            {value === 'yaml' ? 'YAML' : value[0].toUpperCase() + value.slice(1)}
          </button>
        ))}
      </div>
      <div className="toolbar-group toolbar-end">
        <button
          type="button"
          className={logsOpen ? 'button active' : 'button'}
          aria-pressed={logsOpen}
          onClick={onToggleLogs}
          aria-label="Toggle logs"
          data-testid="toolbar-logs"
        >
          Logs
        </button>
        <button
          type="button"
          className="button"
          onClick={onExport}
          aria-label="Download the flow as a file"
          title="Download the saved flow (YAML with its canvas)"
          data-testid="toolbar-export"
        >
          Export
        </button>
        <Link to={`/flow/${flowId}/runs`} className="button" aria-label="Runs of this flow" data-testid="toolbar-runs">
          Runs
        </Link>
        {onPublish ? (
          <button type="button" className="button" onClick={onPublish} title="Publish this flow as a marketplace template" data-testid="toolbar-publish">
            Publish
          </button>
        ) : null}
      </div>
    </header>
  );
}

interface EditorFooterProps {
  nodeCount: number;
  edgeCount: number;
  zoom: ReactNode;
  saveTone: string;
  saveLabel: string;
  syncLabel: string;
  syncFailed: boolean;
  problemCount: number;
  version: number;
  onShowProblems: () => void;
}

export function EditorFooter({
  nodeCount,
  edgeCount,
  zoom,
  saveTone,
  saveLabel,
  syncLabel,
  syncFailed,
  problemCount,
  version,
  onShowProblems,
}: EditorFooterProps) {
  return (
    <footer className="editor-footer" aria-label="Editor status">
      <span data-testid="footer-count">
        {nodeCount} node{nodeCount === 1 ? '' : 's'} · {edgeCount} edge{edgeCount === 1 ? '' : 's'}
      </span>
      {zoom}
      <span className={`save-status save-${saveTone}`} data-testid="save-status" data-state={saveTone} role="status">
        {saveLabel}
      </span>
      <span data-testid="sync-status" className={syncFailed ? 'error-text' : 'muted'}>
        {syncLabel}
      </span>
      {problemCount ? (
        <button type="button" className="link-button error-text" onClick={onShowProblems} data-testid="footer-problems">
          {problemCount} problem{problemCount === 1 ? '' : 's'}
        </button>
      ) : null}
      <span className="spacer" />
      <span className="muted">v{version}</span>
    </footer>
  );
}
