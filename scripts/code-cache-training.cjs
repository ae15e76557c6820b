// Preloaded (node -r) into the container scripts/bundle.mjs runs to train the
// bundle's code caches: src/code-cache.ts then writes, at the process's exit,
// a cache for every bundle file it compiled. The key is src/code-cache.ts's
// TRAINING. bin/tsvisor drops NODE_OPTIONS, so nothing but a direct
// `node -r` of this file turns training on.
globalThis[Symbol.for('tsvisor.codeCacheTraining')] = true;
