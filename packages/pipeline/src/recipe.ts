import { McError } from '@mc/ir';
import { parse as parseYaml } from 'yaml';
import type { CheckPolicy } from './check.js';
import { type PipelineStep, STEP_NAMES, STEPS, type StepName } from './steps.js';

/** A recipe: the steps, plus where data comes from (CLI flags override it). */
export interface Recipe {
  steps: RecipeStep[];
  data?: { dataset: string; dir: string; scale?: number };
}

/** A step with its own verification bounds. */
export type RecipeStep = PipelineStep & { check?: CheckPolicy };

const CHECK_KEYS = ['minCosine', 'minTop1'];

function fail(file: string, where: string, msg: string): never {
  throw new McError('E_OPTION', `recipe ${file}: ${where}: ${msg}`, { context: { file } });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses and validates a recipe (JSON or YAML). Every step name and option key is checked before any work, so a typo
 * fails at once with the step, the key and the keys that are allowed.
 *
 * A step is written `{step: 'lowrank', error: 0.3}` or `{lowrank: {error: 0.3}}`.
 *
 * @example
 * ```ts
 * const recipe = parseRecipe('steps:\n  - lowrank: {error: 0.3}\n  - quantize: {mode: int8-weights}\n', 'r.yaml');
 * ```
 */
export function parseRecipe(text: string, file = 'recipe'): Recipe {
  let doc: unknown;
  try {
    doc = /^\s*[[{]/.test(text) ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new McError('E_FORMAT', `recipe ${file} is not valid JSON or YAML: ${e instanceof Error ? e.message : String(e)}`, {
      context: { file },
      cause: e,
    });
  }
  const root = Array.isArray(doc) ? { steps: doc } : doc;
  if (!isRecord(root) || !Array.isArray(root.steps))
    fail(file, 'top level', 'expected {steps: [...]} (or a list of steps); e.g. steps: [{lowrank: {error: 0.3}}]');
  for (const k of Object.keys(root)) if (k !== 'steps' && k !== 'data') fail(file, 'top level', `unknown key '${k}'; allowed: steps, data`);
  if (root.steps.length === 0) fail(file, 'steps', 'the list is empty; add at least one step');
  const steps = root.steps.map((raw, i) => parseStep(raw, i, file));
  const recipe: Recipe = { steps };
  if (root.data !== undefined) {
    const d = root.data;
    if (!isRecord(d) || typeof d.dataset !== 'string' || typeof d.dir !== 'string')
      fail(file, 'data', "expected {dataset: 'mnist'|'cifar10'|'npy', dir: '<folder>'}");
    recipe.data = { dataset: d.dataset, dir: d.dir, ...(typeof d.scale === 'number' && { scale: d.scale }) };
  }
  return recipe;
}

function parseStep(raw: unknown, i: number, file: string): RecipeStep {
  const where = `step ${i + 1}`;
  if (!isRecord(raw)) fail(file, where, 'expected an object such as {lowrank: {error: 0.3}}');
  let name: unknown;
  let opts: Record<string, unknown>;
  if ('step' in raw) {
    const { step, ...rest } = raw;
    name = step;
    opts = rest;
  } else {
    const keys = Object.keys(raw);
    if (keys.length !== 1)
      fail(file, where, `expected one key naming the step (${STEP_NAMES.join(', ')}), found ${keys.length}: ${keys.join(', ')}`);
    name = keys[0];
    const v = raw[keys[0]!] ?? {};
    if (!isRecord(v)) fail(file, where, `options of '${String(name)}' must be an object`);
    opts = v;
  }
  if (typeof name !== 'string' || !(STEP_NAMES as string[]).includes(name)) {
    fail(file, where, `unknown step '${String(name)}'; steps are ${STEP_NAMES.join(', ')}`);
  }
  const def = STEPS[name as StepName];
  const { check, ...options } = opts;
  for (const k of Object.keys(options)) {
    if (!def.keys.includes(k)) fail(file, `${where} (${name})`, `unknown option '${k}'; allowed: ${def.keys.join(', ')}, check`);
  }
  let policy: CheckPolicy | undefined;
  if (check !== undefined) {
    if (!isRecord(check)) fail(file, `${where} (${name})`, 'check must be an object like {minTop1: 0.99}');
    for (const [k, v] of Object.entries(check)) {
      if (!CHECK_KEYS.includes(k)) fail(file, `${where} (${name}) check`, `unknown key '${k}'; allowed: ${CHECK_KEYS.join(', ')}`);
      if (typeof v !== 'number' || !(v >= 0 && v <= 1))
        fail(file, `${where} (${name}) check`, `${k} must be a number in [0, 1], got ${JSON.stringify(v)}`);
    }
    policy = check as CheckPolicy;
  }
  if (name === 'quantize' && typeof options.mode !== 'string')
    fail(file, `${where} (quantize)`, "needs a mode, e.g. {quantize: {mode: 'int8-static'}}");
  if (name === 'prune' && options.mode !== 'magnitude' && options.mode !== 'channels')
    fail(file, `${where} (prune)`, "needs mode 'magnitude' (with sparsity) or 'channels' (with ratio)");
  return { step: name, options, ...(policy !== undefined && { check: policy }) } as RecipeStep;
}
