import { type Dataset, DATASET_KINDS, DEFAULT_BYTE_SCALE } from '@mc/datasets';
import { McError } from '@mc/ir';
import type { FlagTable } from './flags.js';

/** The default pixel scale as help shows it: `1/255`. */
export const BYTE_SCALE = `1/${Math.round(1 / DEFAULT_BYTE_SCALE)}`;

/** Flags every command that reads data shares: `--dataset`, `--data-dir`, `--scale`, `--limit`. */
export const DATA_FLAGS = {
  dataset: { type: 'string', choices: DATASET_KINDS, description: 'dataset for calibration, training or evaluation' },
  'data-dir': { type: 'string', arg: 'dir', description: 'folder holding the dataset files (MNIST IDX .gz, CIFAR-10 .bin, or .npy)' },
  scale: {
    type: 'number',
    arg: 's',
    description: `multiply pixels by s before feeding (default ${BYTE_SCALE}; use 1 for models trained on raw 0..255 pixels); without data, verification feeds synthetic inputs in [0, 255·s]`,
  },
  limit: { type: 'number', arg: 'n', description: 'use at most n samples' },
} as const satisfies FlagTable;

/** The parsed data flags a helper reads (any command's values that have them). */
export interface DataFlagValues {
  dataset?: string | undefined;
  'data-dir'?: string | undefined;
  scale?: number | undefined;
  limit?: number | undefined;
}

/** Loads the dataset the data flags name, or undefined when `--dataset` is absent. */
export async function loadDataFlags(flags: DataFlagValues, split: 'train' | 'test'): Promise<Dataset | undefined> {
  const { dataset: kind, 'data-dir': dir, limit } = flags;
  if (kind === undefined) {
    if (dir !== undefined) throw new McError('E_OPTION', '--data-dir needs --dataset (mnist, cifar10 or npy)');
    return undefined;
  }
  if (dir === undefined) throw new McError('E_OPTION', `--dataset ${kind} needs --data-dir <folder with the ${kind} files>`);
  const { loadDataset } = await import('@mc/datasets');
  return loadDataset(kind, dir, { split, ...(limit !== undefined && { limit }) });
}
