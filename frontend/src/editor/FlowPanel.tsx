import { useState } from 'react';
import { errorMessage } from '../api/client';
import { useFlowVersions, useRotateWebhook } from '../api/queries';
import { CallbacksSection } from './CallbacksSection';
import type { Flow, FlowRuntimeStatus, Problem, WebhookRotation } from '../api/types';
import { CopyButton } from '../components/CopyButton';
import { Modal } from '../components/Modal';
import { StatusBadge } from '../components/StatusBadge';
import { formatBytes, formatRelative, formatTimestamp } from '../components/format';
import type { FlowNode } from './nodeKinds';
import { describeProblem, flowWarnings } from './problems';
import { SecretsSection } from './SecretsSection';
import { VersionDialog } from './VersionDialog';

export function absoluteUrl(url: string): string {
  if (/^https?:\/\//.test(url)) return url;
  return `${window.location.origin}${url.startsWith('/') ? '' : '/'}${url}`;
}

export function curlExample(url: string): string {
  return `curl -X POST '${url}' \\\n  -H 'Content-Type: application/json' \\\n  -H 'Idempotency-Key: order-1234' \\\n  -d '{"hello": "world"}'`;
}

/** The pump heartbeat as a time and a one-line summary (it may be an object or a timestamp). */
export function describeHeartbeat(
  heartbeat: FlowRuntimeStatus['heartbeat'],
): { at: string | number | null; detail: string | null } | null {
  if (!heartbeat) return null;
  if (typeof heartbeat === 'string' || typeof heartbeat === 'number') return { at: heartbeat, detail: null };
  const parts: string[] = [];
  if (typeof heartbeat.processed === 'number') parts.push(`${heartbeat.processed} processed`);
  if (typeof heartbeat.failed === 'number') parts.push(`${heartbeat.failed} failed`);
  if (typeof heartbeat.in_flight === 'number') parts.push(`${heartbeat.in_flight} in flight`);
  return { at: heartbeat.updated_at ?? heartbeat.started_at ?? null, detail: parts.join(' · ') || null };
}

interface FlowPanelProps {
  flow: Flow;
  dirty: boolean;
  onRestored: (flow: Flow) => void;
  runtime: FlowRuntimeStatus | undefined;
  problems: Problem[];
  localProblemCount: number;
  nodes: FlowNode[];
}

/** Shown when no node is selected: the flow's runtime, webhook and versions. */
export function FlowPanel({ flow, dirty, onRestored, runtime, problems, localProblemCount, nodes }: FlowPanelProps) {
  const [openVersion, setOpenVersion] = useState<number | null>(null);
  const rotate = useRotateWebhook(flow.id);
  const versions = useFlowVersions(flow.id);
  const [rotation, setRotation] = useState<WebhookRotation | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function doRotate() {
    setConfirming(false);
    setError(null);
    try {
      setRotation(await rotate.mutateAsync());
    } catch (err) {
      setError(errorMessage(err));
    }
  }

  const webhookUrl = rotation?.url ?? flow.webhook_url;
  const tokenKnown = Boolean(rotation) || flow.webhook_token_known !== false;
  const hasWebhookTrigger = nodes.some((node) => node.type === 'trigger' && node.data.kind === 'webhook');
  const heartbeat = describeHeartbeat(runtime?.heartbeat);
  const warnings = flowWarnings(nodes);

  return (
    <div className="flow-panel" data-testid="flow-panel">
      <section aria-labelledby="flow-heading">
        <h2 id="flow-heading">{flow.name}</h2>
        {flow.description ? <p className="muted">{flow.description}</p> : null}
        <dl className="facts">
          <dt>Status</dt>
          <dd>
            <StatusBadge status={runtime?.status ?? flow.status} />
            {runtime?.reason || flow.status_reason ? (
              <div className="muted small" data-testid="status-reason">
                {runtime?.reason ?? flow.status_reason}
              </div>
            ) : null}
          </dd>
          {heartbeat ? (
            <>
              <dt>Heartbeat</dt>
              <dd title={formatTimestamp(heartbeat.at)} data-testid="heartbeat">
                {formatRelative(heartbeat.at)}
                {heartbeat.detail ? <div className="muted small">{heartbeat.detail}</div> : null}
              </dd>
            </>
          ) : null}
          <dt>Version</dt>
          <dd data-testid="panel-version">
            saved v{flow.version}
            {runtime?.running_version ? (
              <span className={runtime.outdated ? 'error-text' : 'muted'}>
                {' '}· live v{runtime.running_version}
                {runtime.outdated ? ' (outdated)' : ''}
              </span>
            ) : null}
          </dd>
          {runtime?.memory ? <MemoryUsage {...runtime.memory} /> : null}
          <dt>Updated</dt>
          <dd title={formatTimestamp(flow.updated_at)}>{formatRelative(flow.updated_at)}</dd>
        </dl>
      </section>

      {hasWebhookTrigger ? (
        <section aria-labelledby="webhook-heading" data-testid="webhook-section">
          <h3 id="webhook-heading">Webhook</h3>
          {webhookUrl && tokenKnown ? (
            <>
              <div className="secret-row">
                <code data-testid="webhook-url">{absoluteUrl(webhookUrl)}</code>
                <CopyButton text={absoluteUrl(webhookUrl)} label="Copy webhook URL" testId="webhook-copy" />
              </div>
              <p className="muted small">
                POST JSON to this URL. Send an <code>Idempotency-Key</code> header to make retries safe: the same key
                never runs twice.
              </p>
              <pre className="mono small curl-example" data-testid="webhook-curl">
                {curlExample(absoluteUrl(webhookUrl))}
              </pre>
              <CopyButton text={curlExample(absoluteUrl(webhookUrl))} label="Copy curl example" testId="webhook-curl-copy" />
            </>
          ) : webhookUrl ? (
            <p className="muted" data-testid="webhook-unknown">
              This URL&apos;s token was issued before tokens were kept, so it cannot be shown. Rotate to get a URL you can
              copy.
            </p>
          ) : (
            <p className="muted">No webhook URL yet. Create one to receive calls.</p>
          )}
          <button
            type="button"
            className="button button-small"
            aria-label="Rotate webhook URL"
            data-testid="webhook-rotate"
            disabled={rotate.isPending}
            onClick={() => (flow.webhook_url || rotation ? setConfirming(true) : void doRotate())}
          >
            {rotate.isPending ? 'Rotating…' : webhookUrl ? 'Rotate' : 'Create webhook URL'}
          </button>
          {error ? (
            <p className="form-error" role="alert">
              {error}
            </p>
          ) : null}
        </section>
      ) : null}

      <SecretsSection flowId={flow.id} />

      <CallbacksSection flowId={flow.id} />

      <section aria-labelledby="problems-heading">
        <h3 id="problems-heading">Problems</h3>
        {warnings.length ? (
          <ul className="problem-list" data-testid="flow-warnings">
            {warnings.map((warning) => (
              <li key={warning}>{warning}</li>
            ))}
          </ul>
        ) : null}
        {problems.length === 0 && localProblemCount === 0 && warnings.length === 0 ? <p className="ok-text">None</p> : null}
        {localProblemCount ? (
          <p className="muted">{localProblemCount} node(s) need attention — select them to see why.</p>
        ) : null}
        {problems.length ? (
          <ul className="problem-list" data-testid="flow-problems">
            {problems.map((problem, index) => (
              <li key={index}>{describeProblem(problem, nodes)}</li>
            ))}
          </ul>
        ) : null}
      </section>

      <section aria-labelledby="versions-heading">
        <h3 id="versions-heading">Versions</h3>
        {versions.data?.length ? (
          <ol className="versions" reversed>
            {[...versions.data]
              .sort((a, b) => b.number - a.number)
              .slice(0, 8)
              .map((version) => (
                <li key={version.id} title={version.content_hash}>
                  <button
                    type="button"
                    className="link-button"
                    onClick={() => setOpenVersion(version.number)}
                    data-testid={`version-${version.number}`}
                    aria-label={`View version ${version.number}`}
                  >
                    v{version.number}
                  </button>{' '}
                  · <span className="muted">{formatRelative(version.created_at)}</span>
                </li>
              ))}
          </ol>
        ) : (
          <p className="muted">{versions.isPending ? 'Loading…' : 'Not saved yet'}</p>
        )}
      </section>

      {openVersion !== null ? (
        <VersionDialog
          flow={flow}
          number={openVersion}
          dirty={dirty}
          onClose={() => setOpenVersion(null)}
          onRestored={(restored) => {
            setOpenVersion(null);
            onRestored(restored);
          }}
        />
      ) : null}

      {confirming ? (
        <Modal
          title="Rotate the webhook URL?"
          onClose={() => setConfirming(false)}
          footer={
            <>
              <button type="button" className="button" onClick={() => setConfirming(false)}>
                Cancel
              </button>
              <button type="button" className="button button-danger" data-testid="confirm-rotate" onClick={doRotate}>
                Rotate
              </button>
            </>
          }
        >
          <p>Callers using the current URL and token will be refused.</p>
        </Modal>
      ) : null}
    </div>
  );
}

/** Project memory held by the flow, with a bar against the plan's cap. */
function MemoryUsage({ used_bytes: used, quota_bytes: quota }: { used_bytes: number; quota_bytes: number | null }) {
  const share = quota ? Math.min(1, used / quota) : 0;
  return (
    <>
      <dt>Memory</dt>
      <dd data-testid="panel-memory" className={share >= 0.9 ? 'error-text' : undefined}>
        {formatBytes(used)} {quota === null ? 'used (no cap on this plan)' : `of ${formatBytes(quota)}`}
        {quota ? (
          <meter
            className="memory-meter"
            min={0}
            max={quota}
            value={used}
            low={quota * 0.7}
            high={quota * 0.9}
            optimum={0}
            aria-label="Project memory used"
            data-testid="panel-memory-meter"
          />
        ) : null}
      </dd>
    </>
  );
}
