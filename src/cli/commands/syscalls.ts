// tsvisor syscalls: the syscall table, generated from syscall-tables/.
import fs from 'node:fs';
import { SYSCALLS, gvisorStatus } from '../../syscalls/table.js';
import { type FlagSpec, parseFlags } from '../flags.js';
import type { Command } from '../main.js';

const FLAGS: readonly FlagSpec[] = [
  { name: 'format', type: 'string', choices: ['table', 'json', 'markdown'], help: 'output format (default table)' },
];

export function renderSyscalls(format: 'table' | 'json' | 'markdown'): string {
  const rows = SYSCALLS.map((e) => ({ ...e, gvisor: gvisorStatus(e.name) }));
  if (format === 'json') return `${JSON.stringify(rows, null, 2)}\n`;
  if (format === 'markdown') {
    const head = '| nr | name | disposition | trap | tsvisor | gVisor | notes |\n|---:|---|---|---|---|---|---|\n';
    return head + rows.map((r) => `| ${r.nr} | ${r.name} | ${r.disposition} | ${r.trap} | ${r.support} | ${r.gvisor} | ${r.notes.replace(/\|/g, '\\|')} |`).join('\n') + '\n';
  }
  const w = Math.max(...rows.map((r) => r.name.length));
  return (
    `${'NR'.padStart(4)}  ${'NAME'.padEnd(w)}  DISPOSITION  TRAP    TSVISOR  GVISOR\n` +
    rows.map((r) => `${String(r.nr).padStart(4)}  ${r.name.padEnd(w)}  ${r.disposition.padEnd(11)}  ${r.trap.padEnd(6)}  ${r.support.padEnd(7)}  ${r.gvisor}`).join('\n') +
    '\n'
  );
}

export const syscallsCommand: Command = {
  summary: 'print the syscall table',
  usage: 'syscalls [--format table|json|markdown]',
  async run(_globals, argv) {
    const { flags } = parseFlags(argv, FLAGS, false);
    fs.writeSync(1, renderSyscalls((flags.format as 'table' | 'json' | 'markdown' | undefined) ?? 'table'));
    return 0;
  },
};
