// Client-side checks for the side panel. The server's validator stays the authority;
// these catch the common mistakes while typing and name the field.
import { ERROR_HANDLE, NAME_PATTERN, type FlowEdge, type FlowNode } from './nodeKinds';
import { peerNames } from './store';

export type FieldErrors = Record<string, string>;

const HANDLER_REF = /^(wasm|tool):[^@\s]+@[^@\s]+$/;
const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
const TRIGGER_KINDS = ['webhook', 'manual', 'schedule'];
const MEMORY_OPS = ['get', 'set', 'delete'];
const PROVIDERS = ['openai', 'anthropic'];

function config(node: FlowNode): Record<string, unknown> {
  const value = node.data.config;
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function isBlank(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

function positiveNumber(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

/** A cron expression: 5 fields (or 6 with seconds), each from the usual cron alphabet. */
export function looksLikeCron(value: string): boolean {
  const fields = value.trim().split(/\s+/);
  if (fields.length < 5 || fields.length > 6) return false;
  return fields.every((field) => /^[0-9A-Za-z*/,?LW#-]+$/.test(field));
}

export function validateName(node: FlowNode, nodes: FlowNode[]): string | null {
  const name = node.data.name;
  if (isBlank(name)) return 'Name is required';
  if (!NAME_PATTERN.test(name)) {
    return 'Use letters, digits, _ and -, starting with a letter or _';
  }
  if (name.length > 63) return 'Use at most 63 characters';
  // Triggers and listeners are named separately in the organism.
  const isTrigger = node.type === 'trigger';
  if (nodes.some((other) => other.id !== node.id && (other.type === 'trigger') === isTrigger && other.data.name === name)) {
    return `Another ${isTrigger ? 'trigger' : 'listener'} is already named "${name}"`;
  }
  return null;
}

export function validateNode(node: FlowNode, nodes: FlowNode[], edges: FlowEdge[]): FieldErrors {
  const errors: FieldErrors = {};
  const nameProblem = validateName(node, nodes);
  if (nameProblem) errors.name = nameProblem;
  const cfg = config(node);
  const data = node.data;

  if (node.type !== 'trigger' && data.timeout_seconds !== undefined && !positiveNumber(data.timeout_seconds)) {
    errors.timeout_seconds = 'Timeout must be a positive number of seconds';
  }

  switch (node.type) {
    case 'trigger': {
      if (!TRIGGER_KINDS.includes(String(data.kind))) errors.kind = 'Choose webhook, manual or schedule';
      if (data.kind === 'schedule') {
        if (isBlank(data.cron)) errors.cron = 'A schedule needs a cron expression';
        else if (!looksLikeCron(String(data.cron))) errors.cron = 'Cron has 5 fields, e.g. "0 2 * * *"';
      }
      if (data.payload !== undefined && (typeof data.payload !== 'object' || data.payload === null || Array.isArray(data.payload))) {
        errors.payload = 'Payload must be a JSON object';
      }
      const targets = edges.filter((edge) => edge.source === node.id);
      if (targets.length === 0) errors.target = 'Connect the trigger to the listener it starts';
      break;
    }
    case 'http': {
      if (isBlank(cfg.url)) errors['config.url'] = 'URL is required';
      else if (!/^https?:\/\//.test(String(cfg.url)) && !String(cfg.url).includes('{{')) {
        errors['config.url'] = 'URL must start with http:// or https://';
      }
      if (cfg.method !== undefined && !HTTP_METHODS.includes(String(cfg.method).toUpperCase())) {
        errors['config.method'] = `Method must be one of ${HTTP_METHODS.join(', ')}`;
      }
      if (cfg.json !== undefined && cfg.body !== undefined) errors['config.body'] = 'Send either json or body, not both';
      if (cfg.headers !== undefined && (typeof cfg.headers !== 'object' || cfg.headers === null || Array.isArray(cfg.headers))) {
        errors['config.headers'] = 'Headers must be a JSON object';
      }
      if (cfg.timeout_seconds !== undefined && !positiveNumber(cfg.timeout_seconds)) {
        errors['config.timeout_seconds'] = 'Timeout must be a positive number';
      }
      break;
    }
    case 'llm': {
      if (cfg.provider !== undefined && !PROVIDERS.includes(String(cfg.provider))) {
        errors['config.provider'] = 'Provider is openai or anthropic';
      }
      if (isBlank(cfg.model)) errors['config.model'] = 'Model is required';
      if (isBlank(cfg.prompt)) errors['config.prompt'] = 'Prompt is required';
      if (cfg.temperature !== undefined) {
        const t = cfg.temperature;
        if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t > 2) {
          errors['config.temperature'] = 'Temperature is between 0 and 2';
        }
      }
      if (cfg.max_tokens !== undefined && !(Number.isInteger(cfg.max_tokens) && (cfg.max_tokens as number) > 0)) {
        errors['config.max_tokens'] = 'Max tokens is a positive whole number';
      }
      if (cfg.output !== undefined && !['text', 'json'].includes(String(cfg.output))) {
        errors['config.output'] = 'Output is text or json';
      }
      break;
    }
    case 'code': {
      if (isBlank(data.handler)) errors.handler = 'Choose a module: wasm:<id>@<version> or tool:<listing>@<version>';
      else if (!HANDLER_REF.test(String(data.handler))) {
        errors.handler = 'Handler must look like wasm:<id>@<version> or tool:<listing>@<version>';
      }
      break;
    }
    case 'branch': {
      const peers = peerNames(node.id, nodes, edges);
      const cases = Array.isArray(cfg.cases) ? (cfg.cases as Record<string, unknown>[]) : [];
      cases.forEach((item, index) => {
        if (isBlank(item?.when)) errors[`config.cases.${index}.when`] = 'Condition is required';
        if (isBlank(item?.to)) errors[`config.cases.${index}.to`] = 'Choose the peer to send to';
        else if (!peers.includes(String(item.to))) {
          errors[`config.cases.${index}.to`] = `"${String(item.to)}" is not connected to this branch`;
        }
      });
      if (!isBlank(cfg.default) && !peers.includes(String(cfg.default))) {
        errors['config.default'] = `"${String(cfg.default)}" is not connected to this branch`;
      }
      if (cases.length === 0 && isBlank(cfg.default)) errors['config.cases'] = 'Add a case or a default peer';
      break;
    }
    case 'transform':
    case 'loop': {
      const hasExpression = !isBlank(cfg.expression);
      const hasSet = cfg.set !== undefined;
      if (hasExpression && hasSet) errors['config.expression'] = 'Use either an expression or set, not both';
      if (cfg.expression !== undefined && !hasExpression) errors['config.expression'] = 'Expression is empty';
      if (hasSet && (typeof cfg.set !== 'object' || cfg.set === null || Array.isArray(cfg.set))) {
        errors['config.set'] = 'Set must be a JSON object of field → template';
      }
      if (node.type === 'loop') {
        const max = data.max_iterations;
        if (max === undefined) errors.max_iterations = 'A loop needs a bound on its iterations';
        else if (!(Number.isInteger(max) && (max as number) >= 1)) {
          errors.max_iterations = 'Max iterations is a whole number of at least 1';
        }
      }
      break;
    }
    case 'wait': {
      if (!['timer', 'event', 'approval'].includes(String(cfg.kind))) errors['config.kind'] = 'Wait for a timer, an event or an approval';
      if (cfg.kind === 'timer' && isBlank(cfg.seconds) && isBlank(cfg.until)) errors['config.seconds'] = 'Seconds (or until) is required';
      if (cfg.kind === 'event' && isBlank(cfg.topic)) errors['config.topic'] = 'Topic is required';
      if (cfg.kind === 'event' && isBlank(cfg.correlation)) errors['config.correlation'] = 'Correlation is required';
      break;
    }
    case 'memory': {
      if (!MEMORY_OPS.includes(String(cfg.op))) errors['config.op'] = 'Operation is get, set or delete';
      if (isBlank(cfg.key)) errors['config.key'] = 'Key is required';
      if (cfg.op === 'set' && cfg.value === undefined) errors['config.value'] = 'Set needs a value';
      break;
    }
    default:
      break;
  }

  const errorEdges = edges.filter((edge) => edge.source === node.id && edge.sourceHandle === ERROR_HANDLE);
  if (errorEdges.length > 1) errors.on_error = 'Only one peer can receive errors';
  return errors;
}

/** All local problems of the canvas, for the footer count and node outlines. */
export function validateCanvas(nodes: FlowNode[], edges: FlowEdge[]): Map<string, FieldErrors> {
  const result = new Map<string, FieldErrors>();
  for (const node of nodes) {
    const errors = validateNode(node, nodes, edges);
    if (Object.keys(errors).length) result.set(node.id, errors);
  }
  return result;
}
