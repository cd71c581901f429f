import type { Command } from '../flags.js';
import { type CommandName, SUMMARY } from './summaries.js';

/**
 * A subcommand as `mc --help` lists it. Its module, and the libraries it pulls (onnxruntime-node, tfjs), load only
 * when the command runs or shows its own help, so `mc --version` and `mc --help` start fast.
 */
export interface CommandEntry {
  readonly name: CommandName;
  readonly summary: string;
  load(): Promise<Command>;
}

const entry = (name: CommandName, load: () => Promise<Command>): CommandEntry => ({ name, summary: SUMMARY[name], load });

/** Every subcommand, in the order `mc --help` lists them. Register a new one with one line here and its summary in summaries.ts. */
export const commands: readonly CommandEntry[] = [
  entry('inspect', async () => (await import('./inspect.js')).inspect),
  entry('convert', async () => (await import('./convert.js')).convert),
  entry('compress', async () => (await import('./compress.js')).compress),
  entry('quantize', async () => (await import('./quantize.js')).quantizeCommand),
  entry('run', async () => (await import('./run.js')).run),
  entry('optimize', async () => (await import('./optimize.js')).optimizeCommand),
  entry('eval', async () => (await import('./eval.js')).evalCommand),
  entry('finetune', async () => (await import('./finetune.js')).finetune),
  entry('distill', async () => (await import('./distill.js')).distill),
  entry('prune', async () => (await import('./prune.js')).pruneCommand),
  entry('variants', async () => (await import('./variants.js')).variantsCommand),
  entry('lint', async () => (await import('./lint.js')).lintCommand),
];
