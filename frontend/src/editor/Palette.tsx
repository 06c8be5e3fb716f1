import { useState, type DragEvent } from 'react';
import { useInstalledTools } from '../marketplace/api';
import { KINDS, PALETTE, type NodeKind } from './nodeKinds';

export const DND_MIME = 'application/x-flowplane-node';
/** Carries `tool:<slug>@<version>` beside DND_MIME = "code" when a marketplace tool is dragged. */
export const TOOL_MIME = 'application/x-flowplane-tool';

interface PaletteProps {
  onAdd: (kind: NodeKind, handler?: string) => void;
}

type Tab = 'builtin' | 'marketplace';

/** Built-in node types and installed marketplace tools: drag one onto the canvas, or click (Enter) to add it in the middle of the view. */
export function Palette({ onAdd }: PaletteProps) {
  const [tab, setTab] = useState<Tab>('builtin');
  const [query, setQuery] = useState('');
  const needle = query.trim().toLowerCase();
  const shown = PALETTE.filter((kind) => {
    if (!needle) return true;
    const info = KINDS[kind];
    return `${info.label} ${info.description} ${info.handler ?? ''} ${kind}`.toLowerCase().includes(needle);
  });
  const onDragStart = (event: DragEvent, kind: NodeKind, tool?: string) => {
    event.dataTransfer.setData(DND_MIME, kind);
    if (tool) event.dataTransfer.setData(TOOL_MIME, tool);
    event.dataTransfer.setData('text/plain', tool ?? kind);
    event.dataTransfer.effectAllowed = 'copy';
  };
  const tabButton = (id: Tab, label: string) => (
    <button
      type="button"
      role="tab"
      aria-selected={tab === id}
      id={`palette-tab-${id}`}
      aria-controls={`palette-${id}`}
      onClick={() => setTab(id)}
      data-testid={`palette-tab-${id}`}
    >
      {label}
    </button>
  );
  return (
    <aside className="palette" aria-label="Node palette" data-testid="palette">
      <div role="tablist" aria-label="Palette sections" className="palette-tabs">
        {tabButton('builtin', 'Built-in')}
        {tabButton('marketplace', 'Marketplace')}
      </div>
      {tab === 'builtin' ? (
        <>
          <input
            type="search"
            className="palette-search"
            value={query}
            onChange={(event) => setQuery(event.target.value)}
            onKeyDown={(event) => {
              if (event.key === 'Enter' && shown.length) {
                event.preventDefault();
                onAdd(shown[0]);
              }
            }}
            placeholder="Search nodes"
            aria-label="Search nodes"
            data-testid="palette-search"
          />
          <ul id="palette-builtin" role="tabpanel" aria-labelledby="palette-tab-builtin" className="palette-items">
            {!shown.length ? <li className="muted small">No node matches “{query}”.</li> : null}
            {shown.map((kind) => {
              const info = KINDS[kind];
              return (
                <li key={kind}>
                  <button
                    type="button"
                    className="palette-item"
                    draggable
                    onDragStart={(event) => onDragStart(event, kind)}
                    onClick={() => onAdd(kind)}
                    aria-label={`Add ${info.label} node`}
                    title={`${info.description} — drag onto the canvas or click to add`}
                    data-testid={`palette-${kind}`}
                  >
                    <span className={`kind-icon kind-${kind}`} aria-hidden="true">
                      {info.icon}
                    </span>
                    <span className="palette-label">{info.label}</span>
                  </button>
                </li>
              );
            })}
          </ul>
        </>
      ) : (
        <MarketplaceTab onAdd={onAdd} onDragStart={onDragStart} />
      )}
    </aside>
  );
}

function MarketplaceTab({
  onAdd,
  onDragStart,
}: {
  onAdd: (kind: NodeKind, handler?: string) => void;
  onDragStart: (event: DragEvent, kind: NodeKind, tool?: string) => void;
}) {
  const installed = useInstalledTools();
  const tools = (installed.data ?? []).filter((item) => item.reference);
  return (
    <ul id="palette-marketplace" role="tabpanel" aria-labelledby="palette-tab-marketplace" className="palette-items">
      {installed.isLoading ? <li className="muted small">Loading…</li> : null}
      {!installed.isLoading && !tools.length ? (
        <li className="muted small">
          No tools installed. <a href="/marketplace">Browse the marketplace</a>
        </li>
      ) : null}
      {tools.map((tool) => (
        <li key={tool.slug}>
          <button
            type="button"
            className="palette-item"
            draggable
            onDragStart={(event) => onDragStart(event, 'code', tool.reference as string)}
            onClick={() => onAdd('code', tool.reference as string)}
            aria-label={`Add ${tool.title} tool`}
            title={`${tool.reference} — drag onto the canvas or click to add`}
            data-testid={`palette-tool-${tool.slug}`}
          >
            <span className="kind-icon kind-code" aria-hidden="true">
              {tool.icon ?? '⬢'}
            </span>
            <span className="palette-label">{tool.title}</span>
          </button>
        </li>
      ))}
    </ul>
  );
}
