/**
 * The public d.ts (issue #12): what a user gets from `import … from 'gnnrl'`. The import
 * resolves through the package's own `exports` to the built `dist/` (npm install's
 * `prepare` builds it), so this checks the declarations users compile against, not src/.
 *
 * Two halves, both able to fail: the `expectTypeOf` lines are checked by `tsc --noEmit`
 * (the typecheck step of `.ci/run`; tsconfig.json includes test/), and the runtime cases
 * check that the same names exist in the built JavaScript.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as gnnrl from 'gnnrl';
import type { BackendChoice, EngineOptions, FitResult, GnnrlErrorCode, Interactions, Recommendations, RecommenderModel } from 'gnnrl';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('the public declarations', () => {
  it('type the README examples’ entry points', () => {
    expectTypeOf(gnnrl.Engine.create).parameter(0).toEqualTypeOf<EngineOptions | undefined>();
    expectTypeOf(gnnrl.Engine.create).returns.resolves.toEqualTypeOf<gnnrl.Engine>();
    expectTypeOf<BackendChoice>().toEqualTypeOf<'auto' | 'webgpu' | 'native' | 'cpu'>();
    expectTypeOf(gnnrl.loadMovieLens).returns.resolves.toMatchTypeOf<Interactions>();
    expectTypeOf(gnnrl.splitByUserTime).returns.toMatchTypeOf<{ train: Interactions; test: Interactions }>();
    expectTypeOf<gnnrl.LightGCN>().toMatchTypeOf<RecommenderModel>();
    expectTypeOf<gnnrl.SVD>().toMatchTypeOf<RecommenderModel>();
    expectTypeOf<gnnrl.LightGCN['fit']>().returns.resolves.toEqualTypeOf<FitResult>();
    expectTypeOf<RecommenderModel['recommend']>().returns.resolves.toEqualTypeOf<Recommendations>();
    expectTypeOf<Recommendations['items']>().toEqualTypeOf<Int32Array>();
    expectTypeOf(gnnrl.Recommender.load).returns.resolves.toEqualTypeOf<gnnrl.Recommender>();
    expectTypeOf<gnnrl.Recommender['recommend']>().parameter(0).toEqualTypeOf<string | number>();
    expectTypeOf<gnnrl.GnnrlError['code']>().toEqualTypeOf<GnnrlErrorCode>();
    expectTypeOf<'input'>().toMatchTypeOf<GnnrlErrorCode>();
    // @ts-expect-error: a backend name outside the union is refused at compile time.
    expectTypeOf<BackendChoice>().toEqualTypeOf<'vulkan'>();
  });

  it('exist in the built JavaScript', () => {
    expect(existsSync(join(root, 'dist', 'index.d.ts')), 'dist/index.d.ts: run npm install or npm run build').toBe(true);
    for (const name of ['Engine', 'GnnrlError', 'Tensor', 'LightGCN', 'GCN', 'GraphSAGE', 'GAT', 'SVD', 'BaselineOnly', 'Recommender', 'RecommendServer', 'InteractionGraph', 'IdMap', 'GraphIdMap', 'loadMovieLens', 'splitByUserTime', 'evaluateModel', 'saveCheckpoint', 'kernels', 'listKernels']) {
      expect(typeof (gnnrl as Record<string, unknown>)[name], name).not.toBe('undefined');
    }
    expect(typeof gnnrl.Engine.create).toBe('function');
    expect(typeof gnnrl.kernels.spmm).toBe('function');
  });

  it('match what package.json points at', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(pkg.types).toBe('./dist/index.d.ts');
    expect(pkg.exports['.'].types).toBe('./dist/index.d.ts');
  });
});
