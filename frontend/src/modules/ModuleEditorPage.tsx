// /modules/:id: edit AssemblyScript with type checking in the browser, Build (a new version,
// compile errors as markers), Test on a sample payload, capabilities and version history.
import { lazy, Suspense, useEffect, useState } from 'react';
import { Link, useLocation, useParams } from 'react-router';
import { ApiError, errorMessage } from '../api/client';
import { formatRelative } from '../components/format';
import { CopyButton } from '../components/CopyButton';
import {
  modulesApi,
  useBuildModule,
  useModule,
  useSdkTypes,
  type Capabilities,
  type ModuleDetail,
  type VersionDetail,
} from './api';
import type { BuildProblem } from './CodeEditor';
import { formatBytes } from '../components/format';
import { TestPanel } from './TestPanel';
import { PublishDialog } from '../marketplace/PublishDialog';

const CodeEditor = lazy(() => import('./CodeEditor'));

type Tab = 'test' | 'versions' | 'capabilities' | 'details';

function hostsText(capabilities: Capabilities): string {
  return (capabilities.http_fetch?.hosts ?? []).join('\n');
}

function capabilitiesOf(httpFetch: boolean, hosts: string): Capabilities {
  if (!httpFetch) return {};
  return { http_fetch: { hosts: hosts.split(/[\s,]+/).filter(Boolean) } };
}

export default function ModuleEditorPage() {
  const { id = '' } = useParams();
  const location = useLocation();
  const samples = (location.state ?? {}) as { samplePayload?: unknown; sampleConfig?: Record<string, unknown> };
  const module = useModule(id);
  const sdk = useSdkTypes();
  if (module.isError) {
    return (
      <div className="page narrow">
        <p className="banner banner-error">{errorMessage(module.error)}</p>
        <Link to="/modules">Back to modules</Link>
      </div>
    );
  }
  if (!module.data || !sdk.data) {
    return sdk.isError ? (
      <p className="banner banner-error">{errorMessage(sdk.error)}</p>
    ) : (
      <div className="page-loading">Loading module…</div>
    );
  }
  return <ModuleWorkspace key={module.data.id} module={module.data} sdk={sdk.data} samples={samples} />;
}

function ModuleWorkspace({
  module,
  sdk,
  samples,
}: {
  module: ModuleDetail;
  sdk: NonNullable<ReturnType<typeof useSdkTypes>['data']>;
  samples: { samplePayload?: unknown; sampleConfig?: Record<string, unknown> };
}) {
  const build = useBuildModule(module.id);
  const latest = module.version;
  const [source, setSource] = useState(latest.source ?? '');
  const [httpFetch, setHttpFetch] = useState(Boolean(latest.capabilities.http_fetch));
  const [hosts, setHosts] = useState(hostsText(latest.capabilities));
  const [problems, setProblems] = useState<BuildProblem[]>([]);
  const [publishing, setPublishing] = useState(false);
  const [status, setStatus] = useState<string | null>(null);
  const [tab, setTab] = useState<Tab>('test');
  const [loaded, setLoaded] = useState<number | null>(null);
  const capabilities = capabilitiesOf(httpFetch, hosts);
  const dirty =
    source !== (latest.source ?? '') || JSON.stringify(capabilities) !== JSON.stringify(latest.capabilities);

  useEffect(() => {
    const warn = (event: BeforeUnloadEvent) => {
      if (dirty) event.preventDefault();
    };
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [dirty]);

  async function onBuild() {
    setStatus('Building…');
    setProblems([]);
    try {
      const version = await build.mutateAsync({ source, capabilities });
      setLoaded(null);
      setStatus(
        version.version === latest.version
          ? `Unchanged: version ${version.version} already has this code`
          : `Built version ${version.version} in ${Math.round(version.build_ms ?? 0)} ms`,
      );
    } catch (err) {
      if (err instanceof ApiError && err.status === 422) {
        setProblems(err.problems as BuildProblem[]);
        setStatus(err.detail);
      } else {
        setStatus(errorMessage(err));
      }
    }
  }

  async function loadVersion(number: number) {
    try {
      const version: VersionDetail = await modulesApi.version(module.id, number);
      if (version.source === null) {
        setStatus(`Version ${number} was uploaded as a compiled module: it has no source`);
        return;
      }
      setSource(version.source);
      setHttpFetch(Boolean(version.capabilities.http_fetch));
      setHosts(hostsText(version.capabilities));
      setLoaded(number);
      setProblems([]);
      setStatus(`Loaded the source of version ${number}; Build makes it the latest version`);
    } catch (err) {
      setStatus(errorMessage(err));
    }
  }

  return (
    <div className="module-editor" data-testid="module-editor">
      <div className="module-toolbar">
        <nav className="breadcrumbs" aria-label="Breadcrumbs">
          <Link to="/modules">Modules</Link> / <strong data-testid="module-title">{module.name}</strong>
        </nav>
        <span className="mono small" data-testid="module-reference">
          {latest.reference}
        </span>
        <CopyButton text={latest.reference} label="Copy reference" />
        <span className="spacer" />
        {dirty ? (
          <span className="muted small" data-testid="module-dirty">
            Unbuilt changes{loaded ? ` (from version ${loaded})` : ''}
          </span>
        ) : null}
        <span className="small" role="status" data-testid="module-build-status">
          {status}
        </span>
        <button type="button" className="button" onClick={() => setPublishing(true)} title="Publish this version as a marketplace tool" data-testid="module-publish">
          Publish
        </button>
        <button
          type="button"
          className="button button-primary"
          onClick={onBuild}
          disabled={build.isPending || (latest.source === null && !source)}
          data-testid="module-build"
        >
          {build.isPending ? 'Building…' : 'Build'}
        </button>
      </div>
      <div className="module-body">
        <Suspense fallback={<div className="page-loading">Loading editor…</div>}>
          <CodeEditor value={source} onChange={setSource} sdk={sdk} problems={problems} />
        </Suspense>
        <aside className="module-side" aria-label="Module tools">
          <div className="panel-tabs" role="tablist">
            {(['test', 'versions', 'capabilities', 'details'] as Tab[]).map((name) => (
              <button
                key={name}
                type="button"
                role="tab"
                aria-selected={tab === name}
                className={tab === name ? 'active' : undefined}
                onClick={() => setTab(name)}
                data-testid={`module-tab-${name}`}
              >
                {name[0].toUpperCase() + name.slice(1)}
              </button>
            ))}
          </div>
          <div className="panel-content">
            {tab === 'test' ? (
              <TestPanel
                moduleId={module.id}
                version={latest.version}
                initialPayload={samples.samplePayload ?? {}}
                initialConfig={samples.sampleConfig ?? {}}
                stale={dirty}
              />
            ) : null}
            {tab === 'versions' ? (
              <ol className="version-list" data-testid="module-versions" reversed>
                {module.versions.map((version) => (
                  <li key={version.version}>
                    <div>
                      <strong>Version {version.version}</strong>{' '}
                      <span className="muted small">{formatRelative(version.created_at)}</span>
                    </div>
                    <div className="mono small muted" title={version.sha256}>
                      sha256 {version.sha256.slice(0, 12)}… · {formatBytes(version.size_bytes)} · {version.source_kind}
                    </div>
                    <button
                      type="button"
                      className="button button-small"
                      onClick={() => loadVersion(version.version)}
                      data-testid={`load-version-${version.version}`}
                    >
                      Open source
                    </button>
                  </li>
                ))}
              </ol>
            ) : null}
            {tab === 'capabilities' ? (
              <div data-testid="module-capabilities">
                <p className="muted small">
                  A module can only do what it declares. Flows using it get exactly these grants.
                </p>
                <label className="field-checkbox">
                  <input type="checkbox" checked={httpFetch} onChange={(event) => setHttpFetch(event.target.checked)} />
                  <span>http_fetch: make HTTP requests</span>
                </label>
                {httpFetch ? (
                  <label className="field">
                    <span>Hosts it may reach (one per line; *.example.com for subdomains)</span>
                    <textarea rows={4} className="mono" value={hosts} onChange={(event) => setHosts(event.target.value)} data-testid="module-hosts" />
                  </label>
                ) : null}
                <p className="hint">Changes apply from the next Build.</p>
              </div>
            ) : null}
            {tab === 'details' ? (
              <dl className="facts" data-testid="module-details">
                <dt>Used by</dt>
                <dd>{module.used_by.length ? module.used_by.join(', ') : 'no flow'}</dd>
                <dt>Imports</dt>
                <dd className="mono">{latest.imports.join(', ') || 'none'}</dd>
                <dt>Exports</dt>
                <dd className="mono">{latest.exports.map((item) => item.name).join(', ')}</dd>
                <dt>Compiler</dt>
                <dd>{latest.toolchain ?? 'uploaded'}</dd>
                <dt>Build log</dt>
                <dd>
                  <pre className="mono small">{latest.build_log || '(empty)'}</pre>
                </dd>
              </dl>
            ) : null}
          </div>
        </aside>
      </div>
      {publishing ? (
        <PublishDialog source={{ kind: 'tool', moduleId: module.id, version: latest.version, name: module.name }} onClose={() => setPublishing(false)} />
      ) : null}
    </div>
  );
}
