// Shapes of the control plane's JSON API (see frontend/README.md).

export interface User {
  id: string;
  email: string;
}

export interface Tenant {
  id: string;
  name?: string;
  tier: string;
}

export interface AuthResponse {
  token: string;
  user: User;
  tenant: Tenant;
  role?: string;
}

export interface Me {
  user: User;
  tenant: Tenant;
  role?: string;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface CreatedApiKey {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  expires_at: string | null;
  key: string;
}

export interface Problem {
  path: string;
  message: string;
  line?: number | null;
  column?: number | null;
  node_id?: string | null;
}

export type FlowStatus = 'stopped' | 'starting' | 'running' | 'error' | (string & {});

export type ExecutionStatus =
  | 'queued'
  | 'running'
  | 'waiting'
  | 'succeeded'
  | 'completed'
  | 'failed'
  | 'cancelled'
  | (string & {});

export interface ExecutionSummaryRef {
  id: string;
  status: ExecutionStatus;
  created_at: string;
}

export interface CanvasNodeJson {
  id: string;
  type: string;
  position: { x: number; y: number };
  data: Record<string, unknown>;
}

export interface CanvasEdgeJson {
  id: string;
  source: string;
  target: string;
  sourceHandle?: string | null;
}

export interface Viewport {
  x: number;
  y: number;
  zoom: number;
}

export interface CanvasJson {
  nodes: CanvasNodeJson[];
  edges: CanvasEdgeJson[];
  viewport?: Viewport;
  /** Organism-level settings the canvas carries for the YAML (memory, limits); opaque here. */
  settings?: Record<string, unknown>;
  /** Sticky notes: layout only, never compiled. */
  notes?: Array<{ id: string; position: { x: number; y: number }; text: string }>;
}

export interface Flow {
  id: string;
  name: string;
  description: string | null;
  canvas_state: CanvasJson | null;
  organism_yaml: string | null;
  /** The YAML as its author wrote it, while it still describes this version. */
  organism_source?: string | null;
  version: number;
  status: FlowStatus;
  status_reason: string | null;
  webhook_url: string | null;
  webhook_token_known?: boolean;
  /** After a save of a running flow: `applied`, or why the running pump kept the old version. */
  redeploy?: string | null;
  last_execution: ExecutionSummaryRef | null;
  executions_this_month: number;
  executions_limit: number | null;
  /** What the history keeps of its executions (control_plane/executions/README.md). */
  history_level?: HistoryLevel;
  created_at: string;
  updated_at: string;
}

export type HistoryLevel = "full" | "summary" | "errors";

export interface FlowInput {
  name?: string;
  description?: string | null;
  canvas_state?: CanvasJson | null;
  organism_yaml?: string | null;
  history_level?: HistoryLevel;
}

export interface FlowVersion {
  id: string;
  number: number;
  content_hash: string;
  created_at: string;
}

export interface CompileResult {
  yaml: string | null;
  problems: Problem[];
}

export interface ParseResult {
  canvas: CanvasJson | null;
  problems: Problem[];
}

/** The pump's last heartbeat (times are epoch seconds). */
export interface PumpHeartbeat {
  status?: string;
  version?: string;
  started_at?: number;
  updated_at?: number;
  in_flight?: number;
  processed?: number;
  failed?: number;
}

export interface FlowRuntimeStatus {
  desired: string;
  observed?: string;
  status: FlowStatus;
  reason?: string | null;
  heartbeat?: PumpHeartbeat | string | null;
  outdated?: boolean;
  running_version?: number | null;
  /** Project memory held, against the plan's cap (null: no cap); null when the flow uses none. */
  memory?: { used_bytes: number; quota_bytes: number | null } | null;
}

export interface Sample {
  name: string;
  payload: unknown;
  updated_at: string;
}

export interface Starter {
  id: string;
  title: string;
  description: string;
  organism_yaml: string;
}

export interface WebhookRotation {
  url: string;
  token: string;
}

export interface InjectResult {
  execution_id: string;
  status: ExecutionStatus;
  outputs?: unknown;
  error?: unknown;
  reason?: string | null;
}

/** A one-off schedule: a run of one of the flow's triggers, once, at `fire_at`. */
export interface ScheduledRun {
  id: string;
  flow_id: string;
  status: 'pending' | 'firing' | 'fired' | 'cancelled' | 'failed' | (string & {});
  trigger: string | null;
  payload: unknown;
  fire_at: string;
  execution_id: string | null;
  error: string | null;
  created_at: string;
  fired_at: string | null;
}

/** When a scheduled run fires: exactly one of the two. */
export type ScheduleWhen = { at: string } | { delay_seconds: number };

/** What a waiting execution waits for (a builtin.wait step). */
export interface WaitInfo {
  kind: 'timer' | 'event' | 'approval' | (string & {});
  listener: string;
  step: number;
  topic?: string | null;
  correlation_id?: string | null;
  message?: string | null;
  fire_at?: string | null;
  timeout_at?: string | null;
  on_timeout?: string | null;
}

export interface ExecutionSummary {
  id: string;
  flow_id: string;
  status: ExecutionStatus;
  waiting_for?: WaitInfo | null;
  trigger: string | null;
  trigger_kind?: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  error: unknown;
  reason?: string | null;
  step_count?: number;
}

export interface ExecutionPage {
  items: ExecutionSummary[];
  next_cursor: string | null;
}

export interface ExecutionStep {
  step: number;
  listener: string;
  handler: string;
  status: string;
  input: unknown;
  output: unknown;
  error: unknown;
  reason?: string | null;
  routed_to?: string[];
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
}

export interface ExecutionDetail {
  id: string;
  flow_id: string;
  status: ExecutionStatus;
  waiting_for?: WaitInfo | null;
  rerun_of?: string | null;
  rerun_from_step?: number | null;
  callback_status?: string | null;
  callback_error?: string | null;
  trigger: string | null;
  input: unknown;
  outputs: unknown;
  error: unknown;
  reason?: string | null;
  duration_ms?: number | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  steps: ExecutionStep[];
}

export interface LogEvent {
  /** ISO time, or epoch seconds as the pump writes it. */
  ts: string | number;
  level: string;
  message: string;
  execution_id?: string | null;
}

/** A flow's completion-callback settings (signing secret, failure notification URL). */
export interface CallbackSettings {
  signing_secret: string;
  failure_url: string | null;
  replay_window_seconds: number;
}
