import { describe, expect, test } from 'vitest';
import { niceTicks, renderCurvesSvg, xmlEscape, type Panel } from '../../src/cli/svg-plot.js';
import { curvesSvg, type ModelResult } from '../../src/cli/train-output.js';
import { all, expectFiniteCoordinates, parseXml } from './train-helpers.js';

const panels: Panel[] = [
  {
    title: 'training loss',
    xLabel: 'epoch',
    yLabel: 'loss',
    series: [
      { name: 'LightGCN', points: [[1, 0.69], [2, 0.5], [3, 0.41], [4, 0.35]] },
      { name: 'SVD <&> "x"', points: [[1, 1.2], [2, 0.9], [3, 0.85]] },
    ],
  },
  {
    title: 'validation ndcg@20',
    xLabel: 'epoch',
    yLabel: 'ndcg@20',
    series: [{ name: 'LightGCN', points: [[1, 0.1], [2, 0.12], [3, 0.13], [4, 0.125]] }],
  },
];

describe('learning-curve SVG', () => {
  test('is well-formed standalone SVG 1.1 with one polyline per series, axes, ticks and a legend', () => {
    const svg = renderCurvesSvg(panels, { title: 'run & co' });
    const root = parseXml(svg);
    expect(root.name).toBe('svg');
    expect(root.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
    expect(root.attrs.version).toBe('1.1');
    expect(Number(root.attrs.width)).toBeGreaterThan(0);
    const lines = all(root, 'polyline');
    expect(lines.map((l) => l.attrs['data-series'])).toEqual(['LightGCN', 'SVD <&> "x"', 'LightGCN']);
    expect(lines[0].attrs.points.split(' ')).toHaveLength(4);
    // The same model keeps its colour across panels.
    expect(lines[2].attrs.stroke).toBe(lines[0].attrs.stroke);
    expect(lines[1].attrs.stroke).not.toBe(lines[0].attrs.stroke);
    const texts = all(root, 'text').map((t) => t.text);
    expect(texts).toEqual(expect.arrayContaining(['training loss', 'validation ndcg@20', 'epoch', 'loss', 'LightGCN', 'SVD <&> "x"', 'run & co', '1', '4']));
    const legend = all(root, 'g').find((g) => g.attrs.class === 'legend')!;
    expect(all(legend, 'text').map((t) => t.text)).toEqual(['LightGCN', 'SVD <&> "x"']);
    // Self-contained: no scripts, no external references, no web fonts.
    expect(svg).not.toMatch(/<script|xlink:href|@import|url\(http|<image/);
    expectFiniteCoordinates(svg, root);
  });

  test('one epoch: a polyline and a visible marker, finite coordinates', () => {
    const svg = renderCurvesSvg([{ title: 'loss', xLabel: 'epoch', yLabel: 'loss', series: [{ name: 'Popularity', points: [[1, 0.5]] }] }]);
    const root = parseXml(svg);
    expect(all(root, 'polyline')).toHaveLength(1);
    expect(all(root, 'circle')).toHaveLength(1);
    expectFiniteCoordinates(svg, root);
  });

  test('NaN and infinite values are skipped, breaking the line, never written', () => {
    const svg = renderCurvesSvg([
      {
        title: 'loss',
        xLabel: 'epoch',
        yLabel: 'loss',
        series: [
          { name: 'a', points: [[1, 1], [2, NaN], [3, 0.5], [4, Infinity], [5, 0.25], [6, -Infinity]] },
          { name: 'all-nan', points: [[1, NaN], [2, NaN]] },
        ],
      },
      { title: 'empty', xLabel: 'epoch', yLabel: 'v', series: [] },
    ]);
    const root = parseXml(svg);
    const lines = all(root, 'polyline');
    // 'a' splits into three runs of one point; 'all-nan' draws nothing.
    expect(lines.map((l) => l.attrs['data-series'])).toEqual(['a', 'a', 'a']);
    expect(all(root, 'text').map((t) => t.text)).toContain('no finite values');
    expectFiniteCoordinates(svg, root);
  });

  test('flat series and huge or tiny values still give a finite scale', () => {
    const svg = renderCurvesSvg([
      { title: 'flat', xLabel: 'epoch', yLabel: 'v', series: [{ name: 'f', points: [[1, 3], [2, 3], [3, 3]] }] },
      { title: 'huge', xLabel: 'epoch', yLabel: 'v', series: [{ name: 'h', points: [[1, 1e30], [2, -1e30]] }] },
      { title: 'tiny', xLabel: 'epoch', yLabel: 'v', series: [{ name: 't', points: [[1, 1e-9], [2, 2e-9]] }] },
    ]);
    expectFiniteCoordinates(svg, parseXml(svg));
  });

  test('from train results: a loss panel and one panel per monitored metric', () => {
    const base = { kind: 'baseline' as const, status: 'ok' as const, fitSeconds: 1, evalSeconds: 0, bestEpoch: 1, stoppedEarly: false, metrics: {} };
    const models: ModelResult[] = [
      { ...base, name: 'popularity', display: 'Popularity', monitor: 'ndcg@20', history: [{ epoch: 1, loss: NaN, seconds: 0, samplesPerSecond: 0, validation: { 'ndcg@20': 0.2 } }] },
      {
        ...base,
        name: 'svd',
        display: 'SVD',
        monitor: 'rmse',
        history: [
          { epoch: 1, loss: 1.1, seconds: 0.1, samplesPerSecond: 1e5, validation: { rmse: 1.0, 'ndcg@20': 0.05 } },
          { epoch: 2, loss: 0.9, seconds: 0.1, samplesPerSecond: 1e5, validation: { rmse: 0.95, 'ndcg@20': 0.06 } },
        ],
      },
      { ...base, name: 'svdpp', display: 'SVD++', status: 'skipped', monitor: null, history: [] },
    ];
    const svg = curvesSvg(models, 'gnnrl train: synthetic:tiny');
    const root = parseXml(svg);
    const titles = all(root, 'text').map((t) => t.text);
    expect(titles).toEqual(expect.arrayContaining(['training loss', 'validation ndcg@20', 'validation rmse']));
    expect(all(root, 'polyline').map((l) => l.attrs['data-series'])).toEqual(['SVD', 'Popularity', 'SVD']);
    expectFiniteCoordinates(svg, root);
  });

  test('niceTicks and xmlEscape', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(1, 10, 9)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(niceTicks(1, 10, 8)).toEqual([2, 4, 6, 8, 10]);
    expect(niceTicks(0.31, 0.36, 5)).toEqual([0.31, 0.32, 0.33, 0.34, 0.35, 0.36]);
    expect(niceTicks(2, 2)).toEqual([2]);
    expect(niceTicks(NaN, 1)).toEqual([]);
    expect(xmlEscape(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
  });
});
