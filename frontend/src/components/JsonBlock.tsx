import { formatJson, isEmptyValue } from './format';

interface JsonBlockProps {
  value: unknown;
  label: string;
  testId?: string;
  tone?: 'error';
}

export function JsonBlock({ value, label, testId, tone }: JsonBlockProps) {
  return (
    <figure className={tone === 'error' ? 'json-block json-block-error' : 'json-block'}>
      <figcaption>{label}</figcaption>
      <pre data-testid={testId} aria-label={label}>
        {isEmptyValue(value) ? <span className="muted">(empty)</span> : formatJson(value)}
      </pre>
    </figure>
  );
}
