// apt-get in the sandbox (issue 9): apt and dpkg lean on what real programs
// need of a file system (fstat of an unlinked temporary file, renames over
// open files, hard links for backups, exact times, FIFOs for dpkg's status
// pipe). The sandbox is `tsvisor do` on the host's root under the in-memory
// overlay, with the host network to reach the Debian mirror: the package
// installs and runs inside, and the host is left as it was.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TSVISOR } from './harness.js';
import { ENV } from './robust-helpers.js';

/** A small package the host does not have, so the sandbox's install is real. */
function absentPackage(): string {
  for (const pkg of ['hello', 'cowsay', 'sl', 'figlet']) {
    if (spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' }).stdout.trim() !== 'install ok installed') return pkg;
  }
  throw new Error('the host has every candidate package installed');
}

const hash = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('apt-get in the sandbox', () => {
  it('apt-get update and install of a package: it installs and runs inside, the host is unchanged', () => {
    const pkg = absentPackage();
    const status = hash('/var/lib/dpkg/status');
    const script = [
      'apt-get update -qq',
      `apt-get install -y -qq --no-install-recommends ${pkg} > /tmp/install.log 2>&1 || { cat /tmp/install.log; exit 1; }`,
      `dpkg-query -W -f='\${Status}\\n' ${pkg}`,
      `test -n "$(dpkg -L ${pkg} | grep -m1 '^/usr/.*bin/')" && echo has-binary`,
    ].join(' && ');
    const r = spawnSync(TSVISOR, ['do', '--network', 'host', '--', '/bin/sh', '-c', script], { encoding: 'utf8', env: { ...ENV, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 600_000 });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toBe('install ok installed\nhas-binary\n');
    expect(r.stderr).not.toMatch(/^E: /m);
    expect(hash('/var/lib/dpkg/status'), "the host's dpkg status").toBe(status);
    expect(spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' }).stdout.trim()).not.toBe('install ok installed');
  }, 660_000);
});
