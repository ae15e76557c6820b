// tsvisor's programmatic API (package.json "exports" "."): run a test suite
// sandboxed and get its status and report (docs/testrun.md, "The API").
//
//   import { runSandboxed } from 'tsvisor';
//   const { status, report } = await runSandboxed({ command: ['npm', 'test'] });
export { runSandboxed } from './testrun/api.js';
export { type RunOptions, type RunResult, TestRunError } from './testrun/run.js';
export type * from './testrun/report.js';
export { FAIL_ON_KINDS, FAIL_ON_STATUS, type FailOnKind } from './testrun/fail-on.js';
export { renderHtml } from './testrun/html.js';
export { renderMarkdown } from './testrun/markdown.js';
export { formatAnnotations, formatSummary } from './testrun/summary.js';
