// Canvas JSON (what the API stores and compiles) ⇄ React Flow nodes and edges, and the keys that
// tell whether two canvases differ in content (saved state) or in meaning (what compiles).
import type { Viewport } from '@xyflow/react';
import type { CanvasJson } from '../api/types';
import { isNodeKind, isNote, type FlowEdge, type FlowNode, type NodeKind } from './nodeKinds';

interface NoteJson {
  id: string;
  position: { x: number; y: number };
  text: string;
}

export type CanvasSettings = Record<string, unknown>;

export interface CanvasContent {
  nodes: FlowNode[];
  edges: FlowEdge[];
  settings?: CanvasSettings;
  viewport: Viewport;
}

export const DEFAULT_VIEWPORT: Viewport = { x: 0, y: 0, zoom: 1 };

export function fromCanvasJson(canvas: CanvasJson | null | undefined): CanvasContent {
  const rawNodes = Array.isArray(canvas?.nodes) ? canvas.nodes : [];
  const rawNotes: NoteJson[] = Array.isArray(canvas?.notes) ? canvas.notes : [];
  const notes: FlowNode[] = rawNotes
    .filter((note) => note && typeof note.id === 'string')
    .map((note) => ({
      id: note.id,
      type: 'note' as NodeKind,
      position: { x: Number(note.position?.x) || 0, y: Number(note.position?.y) || 0 },
      data: { name: note.id, text: typeof note.text === 'string' ? note.text : '' },
    }));
  const nodes: FlowNode[] = rawNodes
    .filter((node) => node && typeof node.id === 'string' && node.type !== 'note')
    .map((node) => {
      const data = node.data && typeof node.data === 'object' ? { ...node.data } : {};
      const kind = (isNodeKind(node.type) ? node.type : 'code') as NodeKind;
      return {
        id: node.id,
        type: kind,
        position: {
          x: Number(node.position?.x) || 0,
          y: Number(node.position?.y) || 0,
        },
        data: { ...data, name: typeof data.name === 'string' ? data.name : node.id },
      };
    });
  const ids = new Set(nodes.map((node) => node.id));
  const rawEdges = Array.isArray(canvas?.edges) ? canvas.edges : [];
  const edges: FlowEdge[] = rawEdges
    .filter((edge) => edge && ids.has(edge.source) && ids.has(edge.target))
    .map((edge) => {
      const result: FlowEdge = {
        id: edge.id || edgeId(edge.source, edge.target, edge.sourceHandle),
        source: edge.source,
        target: edge.target,
      };
      if (edge.sourceHandle) result.sourceHandle = edge.sourceHandle;
      return result;
    });
  const vp = canvas?.viewport;
  const viewport =
    vp && Number.isFinite(vp.x) && Number.isFinite(vp.y) && Number.isFinite(vp.zoom) && vp.zoom > 0
      ? { x: vp.x, y: vp.y, zoom: vp.zoom }
      : DEFAULT_VIEWPORT;
  const settings =
    canvas?.settings && typeof canvas.settings === 'object' && !Array.isArray(canvas.settings)
      ? canvas.settings
      : undefined;
  return { nodes: [...nodes, ...notes], edges, viewport, settings };
}

/** The canvas JSON stored beside the YAML and sent to compile. */
export function toCanvasJson(state: CanvasContent): CanvasJson {
  const notes = state.nodes.filter(isNote).map((node) => ({
    id: node.id,
    position: { x: Math.round(node.position.x), y: Math.round(node.position.y) },
    text: typeof node.data.text === 'string' ? node.data.text : '',
  }));
  const json: CanvasJson = {
    nodes: state.nodes.filter((node) => !isNote(node)).map((node) => ({
      id: node.id,
      type: node.type ?? 'code',
      position: { x: Math.round(node.position.x), y: Math.round(node.position.y) },
      data: node.data,
    })),
    edges: state.edges.map((edge) => {
      const json: CanvasJson['edges'][number] = { id: edge.id, source: edge.source, target: edge.target };
      if (edge.sourceHandle) json.sourceHandle = edge.sourceHandle;
      return json;
    }),
    viewport: { x: state.viewport.x, y: state.viewport.y, zoom: state.viewport.zoom },
  };
  if (state.settings) json.settings = state.settings;
  if (notes.length) json.notes = notes;
  return json;
}

/** Everything that is saved, and nothing that is not (selection, measurements, viewport). */
export function contentKey(nodes: FlowNode[], edges: FlowEdge[], settings?: CanvasSettings): string {
  return JSON.stringify([
    settings ?? null,
    nodes.map((node) => [node.id, node.type, Math.round(node.position.x), Math.round(node.position.y), node.data]),
    edges.map((edge) => [edge.id, edge.source, edge.target, edge.sourceHandle ?? null]),
  ]);
}

/** What compiles to YAML: content without positions. */
export function semanticKey(nodes: FlowNode[], edges: FlowEdge[], settings?: CanvasSettings): string {
  return JSON.stringify([
    settings ?? null,
    nodes.filter((node) => !isNote(node)).map((node) => [node.id, node.type, node.data]),
    edges.map((edge) => [edge.source, edge.target, edge.sourceHandle ?? null]),
  ]);
}

export function edgeId(source: string, target: string, sourceHandle?: string | null): string {
  return sourceHandle ? `e-${source}-${sourceHandle}-${target}` : `e-${source}-${target}`;
}
