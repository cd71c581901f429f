import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { linearTicks, logTicks, renderHtmlReport } from '../src/html-report.js';
import { mc, repoRoot, tempDir } from './helpers.js';

const chromiumPath = '/usr/bin/chromium';
const model = path.join(repoRoot, 'examples/models/mnist-mlp.onnx');
const data = ['--dataset', 'mnist', '--data-dir', path.join(repoRoot, 'examples/data/mnist-1k')];
// Screenshots go to MC_SCREENSHOT_DIR when set (to look at them), else to a temp folder.
const shots = process.env.MC_SCREENSHOT_DIR ?? tempDir();

describe('report scales', () => {
  it('ticks are 1-2-5 steps covering the data', () => {
    expect(linearTicks(75.67, 99.33).ticks).toEqual([75, 80, 85, 90, 95, 100]);
    expect(logTicks(65_214, 1_067_070).ticks).toEqual([50_000, 100_000, 200_000, 500_000, 1_000_000, 2_000_000]);
    expect(linearTicks(3, 3).ticks.length).toBeGreaterThan(1);
  });

  it('a report of missing or non-finite figures prints a dash, never NaN', () => {
    const html = renderHtmlReport({
      title: 't',
      summary: [['params', '10', 'NaN']],
      layerKind: 'step',
      layerMetric: 'weight bytes after the step',
      layers: [
        { name: '1 finetune', value: Number.NaN, detail: 'x' },
        { name: '2 quantize', value: 5, detail: 'y' },
      ],
    });
    expect(html).not.toMatch(/NaN|Infinity/);
    expect(html).toMatch(/Per step: weight bytes/);
  });

  it('an optimize search that measured nothing but the input still draws a plot with ticks, no chosen point', () => {
    const input = {
      label: 'input',
      steps: [],
      measurement: { bytes: 1_067_070, gzipBytes: 988_448, params: 266_610, macs: 266_200, accuracy: 0.9933, latencyMs: Number.NaN },
      drop: 0,
      feasible: true,
    };
    const html = renderHtmlReport({
      title: 't',
      optimize: { seen: [], pareto: [input], baseline: input, best: null, objective: 'size', maxAccuracyDrop: 0.5 },
    } as never);
    expect(html).not.toMatch(/NaN|Infinity/);
    expect(html).toMatch(/no candidate was chosen/);
    expect((html.match(/class="tick"/g) ?? []).length).toBeGreaterThanOrEqual(6);
    expect(html).toMatch(/budget: input − 0\.5 pt = 98\.83 %/);
  });
});

/** In the page: texts drawn outside their SVG, tick/tag/legend labels that overlap, a page wider than the window. */
function layoutProblems(): { svgs: number; clipped: string[]; collisions: string[]; overflowX: boolean } {
  type R = { l: number; t: number; r: number; b: number; s: string };
  const rect = (e: Element): R => {
    const b = e.getBoundingClientRect();
    return { l: b.left, t: b.top, r: b.right, b: b.bottom, s: e.textContent ?? '' };
  };
  const svgs = [...document.querySelectorAll('svg')];
  const clipped: string[] = [];
  const collisions: string[] = [];
  for (const svg of svgs) {
    const box = rect(svg);
    const texts = [...svg.querySelectorAll('text')].map(rect);
    for (const t of texts) if (t.l < box.l - 0.5 || t.r > box.r + 0.5 || t.t < box.t - 0.5 || t.b > box.b + 0.5) clipped.push(t.s);
    const labels = [...svg.querySelectorAll('text.tick, text.tag, g.legend text')].map(rect);
    for (let i = 0; i < labels.length; i++) {
      for (let j = i + 1; j < labels.length; j++) {
        const [a, b] = [labels[i]!, labels[j]!];
        if (a.l < b.r - 0.5 && b.l < a.r - 0.5 && a.t < b.b - 0.5 && b.t < a.b - 0.5) collisions.push(`${a.s} / ${b.s}`);
      }
    }
  }
  return { svgs: svgs.length, clipped, collisions, overflowX: document.documentElement.scrollWidth > window.innerWidth };
}

/** Which reports the CLI writes, and what each must say. */
const KINDS = {
  compress: { heading: /Per layer: parameters kept \(%\)/, legend: false },
  run: { heading: /Per step: weight bytes after the step/, legend: false },
  'optimize-size': { heading: /File size against accuracy/, legend: true },
  'optimize-latency': { heading: /Latency against accuracy/, legend: true },
} as const;
type Kind = keyof typeof KINDS;

describe.skipIf(!existsSync(chromiumPath))(
  `HTML reports in headless Chromium${existsSync(chromiumPath) ? '' : ' (skipped: no /usr/bin/chromium; apt-get install chromium)'}`,
  () => {
    const files = {} as Record<Kind, string>;
    beforeAll(async () => {
      const dir = tempDir();
      const recipe = path.join(dir, 'recipe.yaml');
      writeFileSync(recipe, 'steps:\n  - lowrank: {error: 0.3}\n  - finetune: {epochs: 1}\n  - quantize: {mode: int8-weights}\n');
      for (const k of Object.keys(KINDS) as Kind[]) files[k] = path.join(dir, `${k}.html`);
      const runs = [
        ['compress', '--error', '0.3', ...data, '--report', files.compress, model, path.join(dir, 'c.onnx')],
        ['run', recipe, ...data, '--max-accuracy-drop', '5', '--report', files.run, model, path.join(dir, 'r.onnx')],
        [
          'optimize',
          ...data,
          '--search-samples',
          '300',
          '--max-accuracy-drop',
          '2',
          '--report',
          files['optimize-size'],
          model,
          path.join(dir, 's.onnx'),
        ],
        [
          'optimize',
          ...data,
          '--objective',
          'latency',
          '--search-samples',
          '300',
          '--recover-samples',
          '300',
          '--time-budget',
          '20',
          '--max-accuracy-drop',
          '2',
          '--no-verify',
          '--report',
          files['optimize-latency'],
          model,
          path.join(dir, 'l.onnx'),
        ],
      ];
      // Latencies vary from run to run, and so does the candidate chosen for them: that search writes without the
      // test-split check (which a noisy pick can fail), since the page, not the pick, is under test here.
      for (const argv of runs) {
        const r = await mc(...argv);
        expect(r.err, argv.join(' ')).toMatch(
          argv.includes('--no-verify') ? /^(mc: warning: --no-verify: .* is written without the test-split check\n)?$/ : /^$/,
        );
        expect(r.code, argv.join(' ')).toBe(0);
      }
    }, 300_000);

    it('every report kind has a title of its own, axis ticks, units and no NaN', () => {
      for (const [k, want] of Object.entries(KINDS) as [Kind, (typeof KINDS)[Kind]][]) {
        const html = readFileSync(files[k], 'utf8');
        expect(html, k).toMatch(want.heading);
        expect(html, k).not.toMatch(/NaN|Infinity|<script/);
        expect((html.match(/class="tick"/g) ?? []).length, k).toBeGreaterThanOrEqual(k.startsWith('optimize') ? 8 : 3);
        if (want.legend) {
          expect(html, k).toMatch(/class="legend".*chosen \(#\d+\): /s);
          expect(html, k).toMatch(/budget: input − 2 pt = \d+(\.\d+)? %/);
          expect(html, k).toMatch(/<line [^>]*stroke-dasharray="6 4"\/>/); // the budget line across the plot
          expect(html, k).toMatch(/class="tag"/);
        }
      }
      expect(readFileSync(files['optimize-size'], 'utf8')).toMatch(/file size \(1 kB = 1000 bytes\)/);
      expect(readFileSync(files['optimize-latency'], 'utf8')).toMatch(/latency per inference \(ms\)/);
    });

    it('the layout check sees a clipped label and two labels on top of each other', async () => {
      const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu'] });
      try {
        const page = await browser.newPage({ viewport: { width: 900, height: 600 } });
        await page.setContent(
          '<svg width="200" height="100"><text class="tick" x="190" y="50">1.46e+6</text><text class="tag" x="10" y="50">12</text><text class="tag" x="12" y="52">13</text></svg>',
        );
        const p = await page.evaluate(layoutProblems);
        expect(p.clipped).toEqual(['1.46e+6']);
        expect(p.collisions).toEqual(['12 / 13']);
      } finally {
        await browser.close();
      }
    });

    it('renders every report without clipped or colliding labels; the screenshots are not blank', async () => {
      mkdirSync(shots, { recursive: true });
      const browser = await chromium.launch({
        executablePath: chromiumPath,
        args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update'],
      });
      try {
        const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
        for (const k of Object.keys(KINDS) as Kind[]) {
          await page.goto(pathToFileURL(files[k]).href);
          const layout = await page.evaluate(layoutProblems);
          expect(layout.svgs, k).toBeGreaterThan(0);
          expect(layout.clipped, k).toEqual([]);
          expect(layout.collisions, k).toEqual([]);
          expect(layout.overflowX, k).toBe(false);
          const png = await page.screenshot({ fullPage: true, path: path.join(shots, `${k}.png`) });
          expect(png.length, k).toBeGreaterThan(20_000);
          // Decoded in the page: the share of non-white pixels and the number of distinct colours.
          const pixels = await page.evaluate(async (b64) => {
            const img = new Image();
            img.src = `data:image/png;base64,${b64}`;
            await img.decode();
            const c = document.createElement('canvas');
            [c.width, c.height] = [img.width, img.height];
            const ctx = c.getContext('2d')!;
            ctx.drawImage(img, 0, 0);
            const d = ctx.getImageData(0, 0, c.width, c.height).data;
            let [ink, blue] = [0, 0];
            const colours = new Set<number>();
            for (let i = 0; i < d.length; i += 4) {
              if (d[i]! < 235 || d[i + 1]! < 235 || d[i + 2]! < 235) ink++;
              if (d[i + 2]! > 150 && d[i + 2]! > d[i]! + 60) blue++; // bars and points (#2b6cc4)
              colours.add((d[i]! >> 4) * 256 + (d[i + 1]! >> 4) * 16 + (d[i + 2]! >> 4));
            }
            return { ink: ink / (d.length / 4), blue, colours: colours.size, width: c.width, height: c.height };
          }, png.toString('base64'));
          expect(pixels.ink, k).toBeGreaterThan(0.02);
          expect(pixels.blue, k).toBeGreaterThan(200);
          expect(pixels.colours, k).toBeGreaterThan(8);
          expect(pixels.height, k).toBeGreaterThan(500);
        }
      } finally {
        await browser.close();
      }
    });
  },
);
