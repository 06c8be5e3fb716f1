interface StatusBadgeProps {
  status: string | null | undefined;
  testId?: string;
  title?: string;
}

const TONES: Record<string, string> = {
  running: 'ok',
  succeeded: 'ok',
  completed: 'ok',
  success: 'ok',
  starting: 'busy',
  stopping: 'busy',
  queued: 'busy',
  waiting: 'busy',
  pending: 'busy',
  started: 'busy',
  error: 'bad',
  failed: 'bad',
  stopped: 'idle',
  cancelled: 'idle',
};

export function StatusBadge({ status, testId, title }: StatusBadgeProps) {
  const value = status || 'unknown';
  const tone = TONES[value] ?? 'idle';
  return (
    <span className={`badge badge-${tone}`} data-testid={testId} data-status={value} title={title ?? value} role="status">
      <span className="badge-dot" aria-hidden="true" />
      {value}
    </span>
  );
}
