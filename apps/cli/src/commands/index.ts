import type { Command } from '../flags.js';
import { compress } from './compress.js';
import { convert } from './convert.js';
import { inspect } from './inspect.js';
import { optimizeCommand } from './optimize.js';
import { run } from './run.js';
import { quantizeCommand } from './quantize.js';
import { evalCommand } from './eval.js';
import { finetune } from './finetune.js';
import { distill } from './distill.js';
import { pruneCommand } from './prune.js';
import { variantsCommand } from './variants.js';
import { lintCommand } from './lint.js';

/** Every subcommand, in the order `mc --help` lists them. Register a new one with one line here. */
export const commands: readonly Command[] = [
  inspect,
  convert,
  compress,
  quantizeCommand,
  run,
  optimizeCommand,
  evalCommand,
  finetune,
  distill,
  pruneCommand,
  variantsCommand,
  lintCommand,
];
