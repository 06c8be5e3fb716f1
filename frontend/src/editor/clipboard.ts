// The node clipboard: Ctrl+C keeps the selection here (and in localStorage, so it pastes into
// another flow too); Ctrl+V pastes it. Not the system clipboard: that would need a permission.
import type { Clip } from './store';

const KEY = 'flowplane.editor.clipboard';

export function storeClip(clip: Clip): void {
  window.localStorage.setItem(KEY, JSON.stringify(clip));
}

export function loadClip(): Clip | null {
  const text = window.localStorage.getItem(KEY);
  if (!text) return null;
  try {
    const clip = JSON.parse(text) as Clip;
    return Array.isArray(clip.nodes) && Array.isArray(clip.edges) ? clip : null;
  } catch {
    return null;
  }
}
