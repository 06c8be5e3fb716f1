import { FLOW_NAME_PATTERN } from '../editor/nodeKinds';

export function flowNameProblem(name: string, taken: string[] = []): string | null {
  if (!name) return 'Name is required';
  if (name.length > 64) return 'Use at most 64 characters';
  if (!FLOW_NAME_PATTERN.test(name)) {
    return 'Use lowercase letters, digits, - and _, starting with a letter or digit';
  }
  if (taken.includes(name)) return `You already have a flow named "${name}"`;
  return null;
}

export function copyName(name: string, taken: string[]): string {
  const base = `${name}-copy`.slice(0, 58);
  if (!taken.includes(base)) return base;
  for (let i = 2; ; i += 1) {
    const candidate = `${base}-${i}`;
    if (!taken.includes(candidate)) return candidate;
  }
}
