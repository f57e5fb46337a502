/** Tests run on the TypeScript sources (transpile-only; `npm run build` type-checks everything). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  testTimeout: 300000,
  maxWorkers: 2,
};
