// /marketplace: search tools and flow templates (full-text search in the database), filter by
// kind and category, sort; cards show rating, installs and what a tool may do.
import { useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { errorMessage } from '../api/client';
import { CATEGORIES, describeCapabilities, useSearch, type ListingCard, type ListingKind, type SortOrder } from './api';

export function Stars({ rating, count }: { rating: number | null; count: number }) {
  if (rating === null) return <span className="muted small">no ratings yet</span>;
  const full = Math.round(rating);
  return (
    <span className="stars" title={`${rating} of 5 from ${count} review${count === 1 ? '' : 's'}`} aria-label={`rated ${rating} of 5`}>
      {'★'.repeat(full)}
      {'☆'.repeat(5 - full)} <span className="muted small">({count})</span>
    </span>
  );
}

function Card({ item }: { item: ListingCard }) {
  const capabilities = describeCapabilities(item.capabilities);
  return (
    <li className="card listing-card" data-testid={`listing-card-${item.slug}`}>
      <div className="listing-card-head">
        <span className="listing-icon" aria-hidden="true">
          {item.icon ?? (item.kind === 'tool' ? '⬢' : '▦')}
        </span>
        <div>
          <Link to={`/marketplace/${item.slug}`} className="flow-link" data-testid={`open-listing-${item.slug}`}>
            {item.title}
          </Link>
          <div className="muted small">
            by {item.author} · {item.category} · v{item.latest_version}
          </div>
        </div>
      </div>
      <p>{item.summary}</p>
      <div className="listing-card-meta small">
        <Stars rating={item.rating} count={item.rating_count} />
        <span>
          {item.install_count} {item.kind === 'tool' ? 'installs' : 'uses'}
        </span>
      </div>
      {item.kind === 'tool' ? (
        <div className="small capability-chips">
          {capabilities.length ? capabilities.map((line) => <span key={line} className="tier-chip plain-chip">{line}</span>) : <span className="muted">no capabilities: computes only</span>}
        </div>
      ) : null}
      {item.tags.length ? <div className="small muted">{item.tags.map((tag) => `#${tag}`).join(' ')}</div> : null}
    </li>
  );
}

export default function MarketplacePage() {
  const [params, setParams] = useSearchParams();
  const kind: ListingKind = params.get('kind') === 'flow' ? 'flow' : 'tool';
  const category = params.get('category') ?? '';
  const sort = (params.get('sort') as SortOrder | null) ?? 'installs';
  const page = Math.max(1, Number(params.get('page') ?? '1') || 1);
  const q = params.get('q') ?? '';
  const [text, setText] = useState(q);
  useEffect(() => setText(q), [q]);
  const search = useSearch({ kind, q, category, sort, page });
  const update = (changes: Record<string, string>) => {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(changes)) {
      if (value) next.set(key, value);
      else next.delete(key);
    }
    if (!('page' in changes)) next.delete('page');
    setParams(next);
  };
  const result = search.data;
  const pages = result ? Math.max(1, Math.ceil(result.total / result.per_page)) : 1;

  return (
    <div className="page" data-testid="marketplace-page">
      <div className="page-header">
        <div>
          <h1>Marketplace</h1>
          <p className="muted">
            Tools are sandboxed WebAssembly with declared capabilities you grant on install, signed by the platform. Templates start a flow without anyone&apos;s secrets.
          </p>
          <p className="muted small">To publish, use Publish in a module&apos;s editor (a tool) or in a flow&apos;s toolbar (a template).</p>
        </div>
      </div>
      <div role="tablist" aria-label="Kind" className="palette-tabs marketplace-tabs">
        {(['tool', 'flow'] as const).map((item) => (
          <button key={item} type="button" role="tab" aria-selected={kind === item} onClick={() => update({ kind: item })} data-testid={`marketplace-kind-${item}`}>
            {item === 'tool' ? 'Tools' : 'Flow templates'}
          </button>
        ))}
      </div>
      <form
        className="marketplace-filters"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          update({ q: text, sort: text.trim() && sort === 'installs' ? 'relevance' : sort });
        }}
      >
        <input type="search" value={text} onChange={(event) => setText(event.target.value)} placeholder="Search by words of the title, summary or tags" aria-label="Search the marketplace" data-testid="marketplace-search" />
        <select value={category} onChange={(event) => update({ category: event.target.value })} aria-label="Category" data-testid="marketplace-category">
          <option value="">All categories</option>
          {CATEGORIES.map((item) => (
            <option key={item} value={item}>
              {item}
            </option>
          ))}
        </select>
        <select value={sort} onChange={(event) => update({ sort: event.target.value })} aria-label="Sort" data-testid="marketplace-sort">
          <option value="installs">Most installed</option>
          <option value="rating">Best rated</option>
          <option value="newest">Newest</option>
          <option value="relevance">Relevance</option>
        </select>
        <button type="submit" className="button button-primary" data-testid="marketplace-search-submit">
          Search
        </button>
      </form>
      {search.isError ? <p className="banner banner-error">{errorMessage(search.error)}</p> : null}
      {result && result.items.length === 0 ? (
        <div className="empty-state card">
          <h2>Nothing found</h2>
          <p className="muted">{q ? `No ${kind === 'tool' ? 'tools' : 'templates'} match “${q}”.` : 'Nothing is published here yet.'}</p>
        </div>
      ) : null}
      <ul className="listing-grid" data-testid="marketplace-results">
        {(result?.items ?? []).map((item) => (
          <Card key={item.slug} item={item} />
        ))}
      </ul>
      {pages > 1 ? (
        <nav className="inline-actions" aria-label="Pages">
          <button type="button" className="button button-small" disabled={page <= 1} onClick={() => update({ page: String(page - 1) })}>
            Previous
          </button>
          <span className="muted small">
            page {page} of {pages}
          </span>
          <button type="button" className="button button-small" disabled={page >= pages} onClick={() => update({ page: String(page + 1) })}>
            Next
          </button>
        </nav>
      ) : null}
    </div>
  );
}
