// The flow's secret names, for fields that can reference `${secrets.NAME}`.
import { createContext, useContext } from 'react';

export const SecretNamesContext = createContext<string[]>([]);

export function useSecretRefs(): string[] {
  return useContext(SecretNamesContext).map((name) => `\${secrets.${name}}`);
}
