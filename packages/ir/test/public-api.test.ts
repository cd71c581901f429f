import { expect, it } from 'vitest';

it('public surface of @mc/ir', async () => {
  expect(Object.keys(await import('@mc/ir')).sort()).toMatchSnapshot();
  expect(Object.keys(await import('@mc/ir/testing')).sort()).toMatchSnapshot();
});
