/**
 * Makes sure tfjs-core's gradient functions are registered (tf.grad / tf.grads / optimizers need them).
 *
 * Normally src/backend/tfjs-gradients.ts (imported by src/backend/index.ts) has already done it by
 * loading the `@tensorflow/tfjs` umbrella bundle, and this resolves at once. It remains as a fallback for
 * an install without the umbrella: tfjs-core's CommonJS bundle has no gradients; they live only in its
 * ES-module tree `dist/register_all_gradients.js`, whose extension-less relative imports Node's ESM
 * resolver rejects. Tried in order:
 *  1. `require(...)`: works where a transformer turns those ESM files into CommonJS (jest with a
 *     transform for `@tensorflow/tfjs-core/dist/*.js`).
 *  2. Node's ESM loader with a resolve hook (`module.register`, Node >= 20.6) that retries extension-less
 *     relative specifiers with `.js`, then a native dynamic `import()`.
 * tfjs keeps its engine and registries on the global namespace, so the gradients land where tf.grads
 * looks for them.
 */
import * as tf from '@tensorflow/tfjs-core';

const GRADIENTS_ENTRY = '@tensorflow/tfjs-core/dist/register_all_gradients.js';

const RESOLVE_HOOK = `
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    const relative = specifier.startsWith('./') || specifier.startsWith('../');
    const fromTfjs = context.parentURL && context.parentURL.includes('/@tensorflow/');
    if (relative && fromTfjs && !specifier.endsWith('.js')) return next(specifier + '.js', context);
    throw err;
  }
}`;

let loading: Promise<void> | null = null;

/** True once the gradient of Conv2D (a stand-in for the whole set) is registered. */
export function tfjsGradientsRegistered(): boolean {
  return tf.getGradient('Conv2D') != null;
}

async function loadGradients(): Promise<void> {
  const errors: string[] = [];
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    require(GRADIENTS_ENTRY.replace(/\.js$/, ''));
  } catch (err) {
    errors.push(`require: ${(err as Error).message.split('\n')[0]}`);
  }
  if (tfjsGradientsRegistered()) return;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const nodeModule = require('node:module') as { register?: (url: string) => void };
    if (typeof nodeModule.register !== 'function') throw new Error('module.register needs Node >= 20.6');
    nodeModule.register(`data:text/javascript,${encodeURIComponent(RESOLVE_HOOK)}`);
    const entry = require.resolve(GRADIENTS_ENTRY);
    // A real dynamic import (TypeScript compiles `import()` to require() under CommonJS).
    const nativeImport = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<unknown>;
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    await nativeImport((require('node:url') as typeof import('url')).pathToFileURL(entry).href);
  } catch (err) {
    errors.push(`import: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!tfjsGradientsRegistered()) {
    throw new Error(`could not register tfjs gradients (${errors.join('; ')})`);
  }
}

/** Register tfjs-core's gradients once; safe to call repeatedly and concurrently. */
export function registerTfjsGradients(): Promise<void> {
  if (tfjsGradientsRegistered()) return Promise.resolve();
  if (!loading) {
    loading = loadGradients().catch((err: unknown) => {
      loading = null;
      throw err;
    });
  }
  return loading;
}
