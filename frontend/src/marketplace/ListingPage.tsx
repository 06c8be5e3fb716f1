// /marketplace/:slug: README (sanitized by the server), versions, capabilities, reviews, and
// Install (a grant dialog listing what the tool may do) or Use template.
import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { errorMessage } from '../api/client';
import { Modal } from '../components/Modal';
import { formatRelative } from '../components/format';
import { describeCapabilities, marketplaceApi, useListing, useMarketplaceMutation, type ListingDetail } from './api';
import { Stars } from './MarketplacePage';

/** The grants the user must tick: one per declared capability. */
export function requiredGrants(capabilities: ListingDetail['capabilities']): string[] {
  return Object.keys(capabilities ?? {}).sort();
}

function GrantDialog({ listing, onClose }: { listing: ListingDetail; onClose: () => void }) {
  const current = listing.versions.find((item) => !item.yanked);
  const needed = requiredGrants(current?.capabilities ?? {});
  const [granted, setGranted] = useState<string[]>([]);
  const install = useMarketplaceMutation((grants: string[]) => marketplaceApi.install(listing.slug, current?.version ?? '', grants));
  const complete = needed.every((name) => granted.includes(name));
  return (
    <Modal
      title={`Install ${listing.title}`}
      onClose={onClose}
      testId="grant-dialog"
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button
            type="button"
            className="button button-primary"
            disabled={!complete || install.isPending || !current}
            onClick={() => install.mutate(granted, { onSuccess: onClose })}
            data-testid="grant-install"
          >
            {needed.length ? 'Grant and install' : 'Install'}
          </button>
        </>
      }
    >
      <p>
        Version <strong>{current?.version ?? '—'}</strong> (signed, key {current?.key_id}). It runs in a sandbox and can do only what you grant here.
      </p>
      {needed.length === 0 ? <p className="muted">It asks for no capabilities: it only computes.</p> : null}
      {needed.map((name) => (
        <label key={name} className="field field-checkbox">
          <input
            type="checkbox"
            checked={granted.includes(name)}
            onChange={(event) => setGranted(event.target.checked ? [...granted, name] : granted.filter((item) => item !== name))}
            data-testid={`grant-${name}`}
          />
          <span>{describeCapabilities({ [name]: (current?.capabilities as Record<string, never>)[name] })[0] ?? name}</span>
        </label>
      ))}
      {install.isError ? <p className="form-error">{errorMessage(install.error)}</p> : null}
    </Modal>
  );
}

function UseDialog({ listing, onClose }: { listing: ListingDetail; onClose: () => void }) {
  const navigate = useNavigate();
  const current = listing.versions.find((item) => !item.yanked);
  const [name, setName] = useState('');
  const [secrets, setSecrets] = useState<Record<string, string>>({});
  const use = useMarketplaceMutation(() =>
    marketplaceApi.use(listing.slug, {
      ...(name.trim() ? { name: name.trim() } : {}),
      secrets: Object.fromEntries(Object.entries(secrets).filter(([, value]) => value)),
    }),
  );
  return (
    <Modal
      title={`New flow from ${listing.title}`}
      onClose={onClose}
      testId="use-dialog"
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          {use.data ? (
            <button type="button" className="button button-primary" onClick={() => navigate(`/flow/${use.data.flow_id}`)} data-testid="use-open">
              Open the flow
            </button>
          ) : (
            <button
              type="button"
              className="button button-primary"
              disabled={use.isPending}
              onClick={() =>
                use.mutate(undefined, {
                  onSuccess: (result) => {
                    if (!result.missing_tools.length) navigate(`/flow/${result.flow_id}`);
                  },
                })
              }
              data-testid="use-create"
            >
              Create flow
            </button>
          )}
        </>
      }
    >
      <label className="field">
        <span>Flow name (optional)</span>
        <input value={name} onChange={(event) => setName(event.target.value)} placeholder="derived from the template" data-testid="use-name" />
      </label>
      {(current?.required_secrets ?? []).map((secret) => (
        <label key={secret} className="field">
          <span>Secret {secret}</span>
          <input type="password" autoComplete="off" value={secrets[secret] ?? ''} onChange={(event) => setSecrets({ ...secrets, [secret]: event.target.value })} data-testid={`use-secret-${secret}`} />
          <small className="hint">Stored encrypted with the new flow; you can set it later too.</small>
        </label>
      ))}
      {(current?.required_tools ?? []).length ? (
        <p className="muted small">It uses the tools {current?.required_tools.join(', ')}; install them from the marketplace if you have not.</p>
      ) : null}
      {use.data?.missing_tools.length ? (
        <div className="notice notice-warn" role="status" data-testid="use-missing-tools">
          Flow {use.data.flow_name} was created. Install these tools before starting it:
          <ul>
            {use.data.missing_tools.map((tool) => (
              <li key={tool.reference}>
                <Link to={`/marketplace/${tool.slug}`}>{tool.reference}</Link> {describeCapabilities(tool.capabilities).join('; ')}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {use.isError ? <p className="form-error">{errorMessage(use.error)}</p> : null}
    </Modal>
  );
}

function ReviewForm({ listing }: { listing: ListingDetail }) {
  const [rating, setRating] = useState(5);
  const [text, setText] = useState('');
  const review = useMarketplaceMutation(() => marketplaceApi.review(listing.slug, rating, text));
  return (
    <form
      className="card review-form"
      onSubmit={(event) => {
        event.preventDefault();
        review.mutate(undefined);
      }}
    >
      <label className="field">
        <span>Your rating</span>
        <select value={rating} onChange={(event) => setRating(Number(event.target.value))} data-testid="review-rating">
          {[5, 4, 3, 2, 1].map((value) => (
            <option key={value} value={value}>
              {'★'.repeat(value)}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>Review</span>
        <textarea value={text} maxLength={2000} rows={2} onChange={(event) => setText(event.target.value)} data-testid="review-text" />
      </label>
      <button type="submit" className="button" disabled={review.isPending} data-testid="review-submit">
        Post review
      </button>
      {review.isError ? <p className="form-error">{errorMessage(review.error)}</p> : null}
    </form>
  );
}

export default function ListingPage() {
  const { slug = '' } = useParams();
  const listing = useListing(slug);
  const [dialog, setDialog] = useState<'install' | 'use' | null>(null);
  const uninstall = useMarketplaceMutation(() => marketplaceApi.uninstall(slug));
  const [reporting, setReporting] = useState(false);
  const report = useMarketplaceMutation((reason: string) => marketplaceApi.report(slug, reason));
  const yank = useMarketplaceMutation((version: string) => marketplaceApi.yank(slug, version));
  if (listing.isError) {
    return (
      <div className="page narrow">
        <p className="banner banner-error">{errorMessage(listing.error)}</p>
        <Link to="/marketplace">Back to the marketplace</Link>
      </div>
    );
  }
  const item = listing.data;
  if (!item) return <div className="page-loading">Loading…</div>;
  const latest = item.versions.find((version) => version.version === item.latest_version);
  return (
    <div className="page" data-testid="listing-page">
      <p className="small">
        <Link to={`/marketplace?kind=${item.kind}`}>← Marketplace</Link>
      </p>
      <div className="page-header">
        <div>
          <h1>
            <span aria-hidden="true">{item.icon ?? (item.kind === 'tool' ? '⬢' : '▦')}</span> {item.title}
          </h1>
          <p className="muted">
            {item.summary} · by {item.author} · {item.category} · <Stars rating={item.rating} count={item.rating_count} /> · {item.install_count}{' '}
            {item.kind === 'tool' ? 'installs' : 'uses'}
          </p>
        </div>
        <div className="inline-actions">
          {item.kind === 'tool' && item.installed ? (
            <>
              <span className="tier-chip plain-chip" data-testid="installed-badge">
                installed {item.installed.reference}
              </span>
              <button type="button" className="button button-small" onClick={() => uninstall.mutate(undefined)} data-testid="uninstall">
                Uninstall
              </button>
            </>
          ) : null}
          {item.kind === 'tool' && !item.installed ? (
            <button type="button" className="button button-primary" onClick={() => setDialog('install')} data-testid="install">
              Install
            </button>
          ) : null}
          {item.kind === 'flow' ? (
            <button type="button" className="button button-primary" onClick={() => setDialog('use')} data-testid="use-template">
              Use template
            </button>
          ) : null}
        </div>
      </div>
      {uninstall.isError ? <p className="banner banner-error">{errorMessage(uninstall.error)}</p> : null}
      {yank.isError ? <p className="banner banner-error">{errorMessage(yank.error)}</p> : null}
      <div className="listing-layout">
        {/* readme_html is rendered by the server with raw HTML off and sanitized (nh3) */}
        <article className="card readme" data-testid="listing-readme" dangerouslySetInnerHTML={{ __html: item.readme_html || '<p class="muted">No README.</p>' }} />
        <aside className="listing-side">
          {item.kind === 'tool' ? (
            <section className="card" data-testid="listing-capabilities">
              <h2>Capabilities</h2>
              {describeCapabilities(latest?.capabilities).length ? (
                <ul>
                  {describeCapabilities(latest?.capabilities).map((line) => (
                    <li key={line}>{line}</li>
                  ))}
                </ul>
              ) : (
                <p className="muted">None: it only computes.</p>
              )}
            </section>
          ) : (
            <section className="card">
              <h2>Needs</h2>
              <p className="small">Secrets: {latest?.required_secrets.join(', ') || 'none'}</p>
              <p className="small">Tools: {latest?.required_tools.join(', ') || 'none'}</p>
              {item.organism_yaml ? (
                <details>
                  <summary className="small">Organism</summary>
                  <pre className="mono small" data-testid="listing-organism">
                    {item.organism_yaml}
                  </pre>
                </details>
              ) : null}
            </section>
          )}
          <section className="card">
            <h2>Versions</h2>
            <ul className="small" data-testid="listing-versions">
              {item.versions.map((version) => (
                <li key={version.version}>
                  <span className="mono">{version.version}</span> {version.yanked ? <span className="tier-chip">yanked</span> : null}{' '}
                  {item.is_author && !version.yanked ? (
                    <button type="button" className="link-button small" onClick={() => yank.mutate(version.version)} data-testid={`yank-${version.version}`}>
                      yank
                    </button>
                  ) : null}{' '}
                  <span className="muted">{formatRelative(version.created_at)}</span>
                  <div className="mono muted" title="content hash (signed)">
                    {version.sha256.slice(0, 16)}…
                  </div>
                </li>
              ))}
            </ul>
          </section>
          <section className="card">
            <h2>Reviews</h2>
            {item.reviews.length === 0 ? <p className="muted small">No reviews yet.</p> : null}
            <ul className="small">
              {item.reviews.map((review) => (
                <li key={`${review.author}-${review.created_at}`}>
                  {'★'.repeat(review.rating)} <strong>{review.author}</strong> {review.text}
                </li>
              ))}
            </ul>
            {item.can_review ? <ReviewForm listing={item} /> : null}
          </section>
          {!item.is_author ? (
            <button type="button" className="link-button small" onClick={() => setReporting(true)}>
              Report this listing
            </button>
          ) : null}
          {report.isSuccess ? <p className="notice small">Reported: the operators will look at it.</p> : null}
        </aside>
      </div>
      {dialog === 'install' ? <GrantDialog listing={item} onClose={() => setDialog(null)} /> : null}
      {dialog === 'use' ? <UseDialog listing={item} onClose={() => setDialog(null)} /> : null}
      {reporting ? (
        <Modal title="Report this listing" onClose={() => setReporting(false)}>
          <form
            onSubmit={(event) => {
              event.preventDefault();
              const reason = new FormData(event.currentTarget).get('reason');
              report.mutate(String(reason ?? ''), { onSuccess: () => setReporting(false) });
            }}
          >
            <label className="field">
              <span>What is wrong?</span>
              <textarea name="reason" required maxLength={2000} rows={3} />
            </label>
            <button type="submit" className="button button-danger">
              Report
            </button>
          </form>
        </Modal>
      ) : null}
    </div>
  );
}
