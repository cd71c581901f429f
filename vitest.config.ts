import { defineConfig } from 'vitest/config';

// Tests import workspace packages from source through the `@mc/source` export condition,
// so `vitest` needs no build first; `pnpm build` (tsc -b) type-checks and emits dist/.
export default defineConfig({
  resolve: { conditions: ['@mc/source'] },
  ssr: { resolve: { conditions: ['@mc/source'] } },
  test: {
    include: ['examples/*/*.test.ts', 'test-support/*.test.ts', 'packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'apps/*/test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One line per file with skipped tests, saying why (test-support/skip-reasons.ts).
    reporters: ['default', './test-support/skip-reasons.ts'],
  },
});
