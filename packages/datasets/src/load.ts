import { McError } from '@mc/ir';
import { loadCifar10 } from './cifar10.js';
import type { Dataset } from './dataset.js';
import { loadMnist, type LoadOptions } from './mnist.js';
import { loadNpy } from './npy-dataset.js';

/** Dataset kinds mc reads from disk. */
export type DatasetKind = 'mnist' | 'cifar10' | 'npy';

/** The kinds, for CLI flag validation. */
export const DATASET_KINDS: readonly DatasetKind[] = ['mnist', 'cifar10', 'npy'];

/**
 * Loads a dataset by kind from a directory.
 *
 * @example
 * ```ts
 * const ds = await loadDataset('cifar10', '../shared/data/cifar10', { split: 'test', limit: 500 });
 * ```
 */
export async function loadDataset(kind: DatasetKind | string, dir: string, opts: LoadOptions = {}): Promise<Dataset> {
  switch (kind) {
    case 'mnist':
      return loadMnist(dir, opts);
    case 'cifar10':
      return loadCifar10(dir, opts);
    case 'npy':
      return loadNpy(dir, opts);
    default:
      throw new McError('E_OPTION', `unknown dataset '${kind}'; use one of ${DATASET_KINDS.join(', ')}`);
  }
}
