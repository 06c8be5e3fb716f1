import { useState, type DragEvent } from 'react';
import { KINDS, PALETTE, type NodeKind } from './nodeKinds';

export const DND_MIME = 'application/x-flowplane-node';

interface PaletteProps {
  onAdd: (kind: NodeKind) => void;
}

/** Built-in node types: drag one onto the canvas, or click (Enter) to add it in the middle of the view. */
export function Palette({ onAdd }: PaletteProps) {
  const [query, setQuery] = useState('');
  const needle = query.trim().toLowerCase();
  const shown = PALETTE.filter((kind) => {
    if (!needle) return true;
    const info = KINDS[kind];
    return `${info.label} ${info.description} ${info.handler ?? ''} ${kind}`.toLowerCase().includes(needle);
  });
  const onDragStart = (event: DragEvent, kind: NodeKind) => {
    event.dataTransfer.setData(DND_MIME, kind);
    event.dataTransfer.setData('text/plain', kind);
    event.dataTransfer.effectAllowed = 'copy';
  };
  return (
    <aside className="palette" aria-label="Node palette" data-testid="palette">
      <div role="tablist" aria-label="Palette sections" className="palette-tabs">
        <button type="button" role="tab" aria-selected="true" id="palette-tab-builtin" aria-controls="palette-builtin">
          Built-in
        </button>
      </div>
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
    </aside>
  );
}
