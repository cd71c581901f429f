/**
 * A vitest reporter that prints, once per test file with skipped tests, how many were skipped and why. The reason is
 * read from the skipped tests' titles (`(skipped: …)`, see `shared.ts` `skipNote`) or from `ctx.skip(note)`; a file
 * whose skips carry no reason is listed as such, so a silent skip shows.
 */
import path from 'node:path';
import type { Reporter, TestModule, Vitest } from 'vitest/node';

/** Reasons found in a title: the text of each `(skipped: …)` group, nested parentheses included. */
export function reasonsInTitle(title: string): string[] {
  const out: string[] = [];
  let at = title.indexOf('(skipped');
  while (at >= 0) {
    let depth = 0;
    let end = at;
    for (; end < title.length; end++) {
      if (title[end] === '(') depth++;
      else if (title[end] === ')' && --depth === 0) break;
    }
    out.push(
      title
        .slice(at + 1, end)
        .replace(/^skipped:?\s*/, '')
        .trim(),
    );
    at = title.indexOf('(skipped', end);
  }
  return out;
}

/** One line per module with skipped tests, by path: `↓ file: N skipped: reason; reason`. */
export function skipLines(modules: ReadonlyArray<TestModule>, root: string): string[] {
  const lines: string[] = [];
  for (const m of modules) {
    let n = 0;
    const reasons = new Set<string>();
    for (const t of m.children.allTests()) {
      const r = t.result();
      if (r.state !== 'skipped') continue;
      n++;
      if (r.note) reasons.add(r.note);
      for (const why of reasonsInTitle(t.fullName)) reasons.add(why);
    }
    if (n === 0) continue;
    const why = reasons.size > 0 ? [...reasons].join('; ') : 'no reason in the test titles';
    lines.push(`↓ ${path.relative(root, m.moduleId)}: ${n} skipped: ${why}`);
  }
  return lines.sort();
}

/** Prints {@link skipLines} after the run. */
export default class SkipReasons implements Reporter {
  private root = process.cwd();
  onInit(ctx: Vitest): void {
    this.root = ctx.config.root;
  }
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const lines = skipLines(modules, this.root);
    if (lines.length > 0) process.stdout.write(`\nSkipped tests, once per file:\n${lines.map((l) => `  ${l}\n`).join('')}`);
  }
}
