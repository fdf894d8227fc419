// Re-exports the compiled helpers (test/helpers.ts → dist-test/helpers.js) for the tests still
// written as .mjs (svm.test.mjs and train-cv.test.mjs until they are TypeScript too).
export * from './helpers.js';
