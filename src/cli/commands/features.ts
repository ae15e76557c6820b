// tsvisor features: what this runtime supports, in the OCI features format.
import fs from 'node:fs';
import { type Command } from '../main.js';
import { parseFlags, wrongArguments } from '../flags.js';
import { CAPABILITY_NAMES, SECCOMP_ACTIONS, SECCOMP_ARCHITECTURES, SECCOMP_FLAGS, SECCOMP_OPERATORS } from '../../oci/spec.js';

export const featuresCommand: Command = {
  summary: 'print the features this runtime supports',
  usage: 'features',
  async run(_globals, argv) {
    if (parseFlags(argv, [], false).rest.length) throw wrongArguments();
    const features = {
      ociVersionMin: '1.0.0',
      ociVersionMax: '1.1.0',
      hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
      mountOptions: ['ro', 'rw', 'bind', 'rbind', 'nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec', 'size', 'nr_inodes', 'mode', 'uid', 'gid'],
      linux: {
        namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'user', 'uts'],
        capabilities: CAPABILITY_NAMES,
        cgroup: { v1: true, v2: true, systemd: false, systemdUser: false },
        seccomp: {
          enabled: true,
          actions: SECCOMP_ACTIONS.filter((a) => a !== 'SCMP_ACT_NOTIFY'),
          operators: SECCOMP_OPERATORS,
          archs: SECCOMP_ARCHITECTURES,
          knownFlags: [...SECCOMP_FLAGS, 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],
          supportedFlags: SECCOMP_FLAGS,
        },
        apparmor: { enabled: false },
        selinux: { enabled: false },
      },
      annotations: { 'dev.tsvisor.runtime': 'tsvisor (a gVisor-style application kernel in TypeScript)' },
    };
    fs.writeSync(1, `${JSON.stringify(features, null, 2)}\n`);
    return 0;
  },
};
